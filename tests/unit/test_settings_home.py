"""One home for the settings: the layer and the handlers read the environment only in
``adapters/config.py`` (local tooling — local/, bench/, tools/ — sets it up and is exempt)."""

from __future__ import annotations

import re

from local.template import ROOT

CONFIG = ROOT / "layers" / "common" / "b24sms" / "adapters" / "config.py"
READS = re.compile(r"\bos\.environ\b|\bgetenv\b|\bfrom\s+os\s+import\b[^\n]*\benviron\b|\benvirons?\[")


def test_only_config_reads_the_environment():
    sources = [*(ROOT / "layers" / "common" / "b24sms").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    assert CONFIG in sources and len(sources) > 20  # the walk finds the code
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        if path != CONFIG
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if READS.search(line)
    ]
    assert found == [], "read settings through b24sms.adapters.config:\n" + "\n".join(found)


def test_the_pattern_sees_each_way_of_reading():
    reads = ('os.environ.get("X")', 'os.environ["X"]', 'os.getenv("X")', "from os import environ, path", "env = os.environ.get")
    for line in reads:
        assert READS.search(line), line
    assert not READS.search("the environment locally (APP_SESSION_SECRET)")
