"""Who will buy again and what they are worth: BG/NBD, Pareto/NBD and MBG/NBD behind one
interface, Gamma-Gamma for spend, a scoreboard against a naive guess (SPEC §6)."""

from retainkit.models.bgnbd import BgNbdParams, fit_bgnbd
from retainkit.models.gammagamma import GammaGammaParams, fit_gamma_gamma
from retainkit.models.summary import Summary, summarise
from retainkit.models.transaction import Fit, TransactionModel, fit_model

__all__ = ["BgNbdParams", "Fit", "GammaGammaParams", "Summary", "TransactionModel", "fit_bgnbd", "fit_gamma_gamma",
           "fit_model", "summarise"]
