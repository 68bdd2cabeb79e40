"""The guides (docs/docsite/rst/) are a docsite antsibull-docs publishes:
each page is in docs/docsite/extra-docs.yml and parses as RST without a
warning (antsibull-docs lint-collection-docs checks the index and the
references, not the pages' markup), and every relative link of the
README, CONTRIBUTING and the guides names a file of the checkout."""

import io
import pathlib
import re

import docutils.core
import docutils.utils
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCSITE = ROOT / "docs" / "docsite"
PAGES = sorted(DOCSITE.glob("rst/*.rst"))


def test_every_page_is_in_the_index_and_every_entry_is_a_page():
    index = yaml.safe_load((DOCSITE / "extra-docs.yml").read_text())
    listed = [entry for section in index["sections"] for entry in section["toctree"]]
    assert sorted(listed) == sorted(page.stem for page in PAGES)
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_each_page_parses_without_a_warning_and_has_its_label(page):
    text = page.read_text()
    assert text.startswith(f".. _ansible_collections.pydeploy.wsgi.docsite.{page.stem.replace('-', '_')}:\n"), page.name
    errors = io.StringIO()
    docutils.core.publish_doctree(
        text, source_path=str(page), settings_overrides={"report_level": docutils.utils.Reporter.WARNING_LEVEL,
                                                         "warning_stream": errors, "halt_level": 5},
    )
    assert errors.getvalue() == "", errors.getvalue()


def relative_links(path):
    text = path.read_text()
    if path.suffix == ".md":
        targets = re.findall(r"\]\(([^)\s]+)\)", text)
    else:
        targets = re.findall(r"`[^`<]*<([^>`]+)>`__?", text)
    return [target for target in targets if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("path", [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *PAGES], ids=lambda path: path.name)
def test_relative_links_name_files_of_the_checkout(path):
    missing = []
    for target in relative_links(path):
        file, _, anchor = target.partition("#")
        if file and not (path.parent / file).exists():
            missing.append(target)
        if not file and anchor and path.suffix == ".md":
            headings = {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
                        for line in path.read_text().splitlines() if line.startswith("#")}
            if anchor not in headings:
                missing.append(target)
    assert missing == []
