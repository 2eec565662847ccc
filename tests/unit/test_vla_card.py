"""The VLA model card: every departure names a config field that exists, and the committed card is current."""

from __future__ import annotations

import pytest

from wbvla.vla import card


def test_every_departure_names_an_existing_config_switch():
    assert len(card.DEPARTURES) >= 10
    for d in card.DEPARTURES:
        card.check_switch(d.switch)
        assert d.paper and d.ours and d.why and d.measured, d.title


def test_a_missing_switch_is_refused():
    with pytest.raises(ValueError, match="has no field 'no_such_field'"):
        card.check_switch("wbvla.vla.config:DecoderConfig.no_such_field")
    with pytest.raises(ValueError, match="no_such_module"):
        card.check_switch("wbvla.no_such_module:Config")


def test_committed_card_is_current():
    assert card.card_path().is_file(), "run python -m wbvla.vla.card --write"
    assert card.card_path().read_text() == card.render_card(card.shipped_dir()), \
        "data/vla/MODEL_CARD.md is stale: run python -m wbvla.vla.card --write"
