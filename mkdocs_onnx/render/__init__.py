"""Renderers: Report -> Markdown pages, SVG charts and CSV/JSON exports.

Modules (import them directly; this package imports nothing). The figures are written by
:mod:`mkdocs_onnx.units`, which the hardware estimates and the summaries share.

- :mod:`~mkdocs_onnx.render.escape`: escaping of untrusted text and URLs.
- :mod:`~mkdocs_onnx.render.card`: ``render_card(ctx, charts, site_url=None)``.
- :mod:`~mkdocs_onnx.render.charts`: ``card_charts(report)``, ``index_charts(reports)``, drawn with
  :mod:`~mkdocs_onnx.render.svg`.
- :mod:`~mkdocs_onnx.render.index`: ``render_index``, ``models_json``, ``models_csv``,
  ``nodes_csv``.
- :mod:`~mkdocs_onnx.render.context`: :class:`CardContext`, what a card needs.
- :mod:`~mkdocs_onnx.render.rawhtml`: the Markdown extension (added by the plugin) that
  passes the cards' HTML tables through unparsed, also inside tabs and admonitions.
"""
