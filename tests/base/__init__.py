"""What tests of several apps share: base test cases (tenant isolation, API, portal pages),
fixture plugins (Celery workers, the fake Google, the push rig) and the helpers that make
Apple devices, SCEP messages and certificates. Recorded wire formats live in tests/fixtures."""

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
FIXTURES_DIR = TESTS_DIR / "fixtures"
REPO_ROOT = TESTS_DIR.parent
