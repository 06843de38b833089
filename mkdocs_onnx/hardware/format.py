"""Human-readable durations for hardware estimates.

The site's own formatter serves: ``mkdocs_onnx.render.units`` is a leaf module (its
package imports nothing), so the estimates and the cards write a duration alike.
"""

from mkdocs_onnx.render.units import format_duration

__all__ = ["format_duration"]
