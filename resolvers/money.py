"""Money as contracts take it: a non-negative decimal amount and an ISO 4217 currency."""

from __future__ import annotations

import re
from decimal import Decimal

from resolvers.validation import Problems, clean_text

MAX_AMOUNT_DIGITS = 10  # before the dot: fee_amount is DECIMAL(14, 4)
MAX_AMOUNT_DECIMALS = 4
AMOUNT = re.compile(r"(?P<units>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
CURRENCY_CODE = re.compile(r"[A-Z]{3}")

# Current ISO 4217 currencies. Left out on purpose: precious metals (XAU, XAG, XPT, XPD),
# fund and accounting units (XDR, XSU, XUA, XB*, BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
# UYW), the testing and "no currency" codes (XTS, XXX), and withdrawn ones (HRK, ZWL, ...).
_CURRENCY_CODES = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER
    ZAR ZMW ZWG"""
ISO_CURRENCIES = frozenset(_CURRENCY_CODES.split())


def clean_amount(problems: Problems, name: str, value: str | None) -> Decimal | None:
    """A non-negative decimal with a dot and at most 4 decimal places."""
    text = clean_text(problems, name, value, max_length=40, required=True, label="Amount")
    if text is None:
        return None
    if text.startswith("-"):
        problems.add(name, "Amount must not be negative.")
        return None
    match = AMOUNT.fullmatch(text)
    if match is None:
        problems.add(name, "Amount must be a decimal number with a dot, e.g. 49.90.")
        return None
    if len(match["fraction"] or "") > MAX_AMOUNT_DECIMALS:
        problems.add(name, f"Amount has more than {MAX_AMOUNT_DECIMALS} decimal places.")
        return None
    if len(match["units"].lstrip("0")) > MAX_AMOUNT_DIGITS:
        problems.add(name, f"Amount has more than {MAX_AMOUNT_DIGITS} digits before the dot.")
        return None
    return Decimal(text)


def clean_currency(problems: Problems, name: str, value: str | None) -> str | None:
    text = clean_text(problems, name, value, max_length=40, required=True, label="Currency")
    if text is None:
        return None
    code = text.upper()
    if not CURRENCY_CODE.fullmatch(code):
        problems.add(name, "Currency must be a three-letter ISO 4217 code such as EUR.")
        return None
    if code not in ISO_CURRENCIES:
        problems.add(name, f"Currency {code} is not a current ISO 4217 currency.")
        return None
    return code
