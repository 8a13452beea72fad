"""docs/state-machines.md is generated from the declared maps; a change to a map without the doc fails here."""

from django.core.management import call_command

from dumuwaks.core.management.commands.transition_tables import DOC
from dumuwaks.core.state_machine import registered_machines, transition_tables_markdown


def test_committed_doc_equals_the_generated_tables():
    assert DOC.read_text() == transition_tables_markdown(), (
        "docs/state-machines.md is out of date: run `python manage.py transition_tables`"
    )


def test_every_machine_and_edge_is_in_the_doc():
    text = transition_tables_markdown()
    for machine in registered_machines():
        assert f"## {machine.label} (" in text
        for source, target in machine.edges():
            assert f"| `{source!s}` | `{target!s}` |" in text


def test_check_mode_passes_on_the_committed_doc(capsys):
    call_command("transition_tables", "--check")
    assert "up to date" in capsys.readouterr().out
