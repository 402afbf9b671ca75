"""The conventions of the Snakemake workflow catalogue (issue #16): `config/README.md` documents every key of the
config schema, `.snakemake-workflow-catalog.yml` has the usage fields the catalogue reads, the rule files are
`snakefmt`-clean and `snakemake --lint` finds nothing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from metapool.analysis.config import SCHEMA_PATH
from metapool.yamlfile import load_package_yaml

CONFIG_README = ROOT / "config" / "README.md"


def documented(key: str) -> bool:
    return re.search(rf"`{re.escape(key)}[`:= ]", CONFIG_README.read_text(encoding="utf-8")) is not None


def schema_keys() -> list[str]:
    schema = load_package_yaml(SCHEMA_PATH)
    analysis = schema["properties"]["analyses"]["additionalProperties"]["allOf"]
    keys = [*schema["properties"], *schema["$defs"]["options"]["properties"]]
    for part in analysis:
        keys += list(part.get("properties", {}))
    return list(dict.fromkeys(keys))


@pytest.mark.parametrize("key", schema_keys())
def test_config_readme_documents_every_key_of_the_config_schema(key):
    assert documented(key), f"config/README.md does not document `{key}`"


def test_the_readme_links_to_the_configuration_reference():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](config/README.md)" in readme
    for anchor in re.findall(r"\]\(config/README\.md#([a-z0-9-]+)\)", readme):
        headings = re.findall(r"^#+ (.+)$", CONFIG_README.read_text(encoding="utf-8"), flags=re.M)
        slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
        assert anchor in slugs, anchor


def test_the_catalogue_file_has_the_usage_fields():
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text(encoding="utf-8"))["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert usage["mandatory-flags"]["desc"].strip() and "flags" in usage["mandatory-flags"]
    stack = usage["software-stack-deployment"]
    assert set(stack) <= {"conda", "apptainer", "apptainer+conda"} and any(stack.values())
    assert all(isinstance(v, bool) for v in stack.values()) and isinstance(usage["report"], bool)
    if stack["conda"]:
        assert list((ROOT / "workflow" / "envs").glob("*.yaml"))


def test_the_workflow_files_are_snakefmt_clean():
    pytest.importorskip("snakefmt", reason="snakefmt is in the test extra: pip install -e '.[test]'")
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--diff", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_snakemake_lint_finds_nothing():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations, your workflow is in a good condition!" in out, out[-4000:]


def test_the_release_is_one_version_in_the_package_the_citation_and_the_changelog():
    import metapool

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    latest = re.search(r"^## (\d+\.\d+\.\d+) \((\d{4}-\d{2}-\d{2})\)$", changelog, flags=re.M)
    assert latest, "CHANGELOG.md: no '## <version> (<date>)' heading"
    assert metapool.__version__ == str(citation["version"]) == latest.group(1)
    if "date-released" in citation:
        assert str(citation["date-released"]) == latest.group(2)
