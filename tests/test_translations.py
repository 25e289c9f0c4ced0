"""Every sentence a person reads exists in French, and the compiled catalogue is current."""

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "agency/translations/fr/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def _extract(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(  # noqa: S603 - our own interpreter running Babel's extractor
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F",
         str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), str(ROOT)],
        check=True, cwd=ROOT,
    )
    with pot.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_every_message_has_a_french_translation(tmp_path):
    wanted = _extract(tmp_path)
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and m.string and (m.string if isinstance(m.string, str) else all(m.string))
        and not m.fuzzy
    }
    missing = sorted(wanted - translated)
    assert missing == [], f"{len(missing)} messages lack a French translation (make translations)"


def test_translations_keep_their_placeholders():
    with PO.open("rb") as f:
        catalog = read_po(f)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []


def _key(message):
    # Plural entries carry (singular, plural) ids and a list of forms.
    key = tuple(message.id) if isinstance(message.id, list | tuple) else message.id
    string = tuple(message.string) if isinstance(message.string, list | tuple) else message.string
    return key, string


def test_compiled_catalogue_matches_the_source():
    with PO.open("rb") as f:
        source = dict(_key(m) for m in read_po(f) if m.id and m.string and not m.fuzzy)
    with MO.open("rb") as f:
        compiled = dict(_key(m) for m in read_mo(f) if m.id)
    assert compiled == source, "run `make translations` to recompile the catalogue"
