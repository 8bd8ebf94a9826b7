"""Who will buy again and what they are worth: BG/NBD and Gamma-Gamma (SPEC §6)."""

from retainkit.models.bgnbd import BgNbdParams, fit_bgnbd
from retainkit.models.gammagamma import GammaGammaParams, fit_gamma_gamma
from retainkit.models.summary import Summary, summarise

__all__ = ["BgNbdParams", "GammaGammaParams", "Summary", "fit_bgnbd", "fit_gamma_gamma", "summarise"]
