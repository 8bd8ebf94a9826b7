"""Every transaction model by the name ``--model`` takes (SPEC §6). A new model is one file
with one :class:`~retainkit.models.transaction.TransactionModel` subclass, listed here."""

from __future__ import annotations

from retainkit.models.bgnbd import BgNbd
from retainkit.models.mbgnbd import ModifiedBgNbd
from retainkit.models.pnbd import ParetoNbd
from retainkit.models.transaction import TransactionModel

MODELS: dict[str, TransactionModel] = {model.name: model for model in (BgNbd(), ParetoNbd(), ModifiedBgNbd())}
#: --model auto: the model that predicts the holdout best (:mod:`retainkit.models.scoreboard`).
AUTO = "auto"
CHOICES = (*MODELS, AUTO)
