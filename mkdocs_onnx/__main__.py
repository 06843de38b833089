import sys

from mkdocs_onnx.cli import main

sys.exit(main())
