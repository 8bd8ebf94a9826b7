"""Every default of retainkit, declared once (SPEC §2, §3, §5, §6).

The command line, the config files and the library all take their defaults from here.
"""

from __future__ import annotations

#: Annual churn rate above which the churn alert fires (seed 001: 5–7 % a year is the limit).
CHURN_ALERT = 0.07
#: Days without an order before a customer can be at risk (seed 002: "2 months").
INACTIVE_DAYS = 60
#: Days without an order after which a customer is lost.
LOST_DAYS = 365
#: Share of customers (by revenue over the last 365 days) who are VIPs.
VIP_TOP = 0.05
#: predict: days ahead, days per model time unit (weeks), annual discount rate, L2 penalty.
HORIZON_DAYS = 365.0
TIME_UNIT_DAYS = 7.0
DISCOUNT_RATE = 0.1
PENALIZER = 0.0
#: predict: the purchase model (bgnbd, pnbd, mbgnbd or auto) and the level of its intervals.
MODEL = "bgnbd"
INTERVAL = 0.8
#: Time zone days are counted in.
TZ = "UTC"
