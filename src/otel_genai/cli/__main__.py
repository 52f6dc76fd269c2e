"""``python -m otel_genai.cli``: the ``otel-genai`` command."""

import sys

from . import main

sys.exit(main())
