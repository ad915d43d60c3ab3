"""Surface form of a response: parse it once, judge format / structure / style, pollute it, supplement it.

Pure Python (no torch, no verl): the same code scores GRPO rollouts, filters preference pairs and measures
format following for GF.

    >>> from specs_verl.surface_form import check
    >>> check("<think>2+2=4</think>\\n<answer>The answer is $\\\\boxed{4}$</answer>").style_ok
    True
"""

from .criteria import PROFILE_FORMAT_CODES, FormReport, check
from .parsing import TAG_KINDS, TAG_TEXT, Boxed, ParsedResponse, Tag, find_boxed, parse
from .pollution import POLLUTION_RULES, pollute
from .profiles import PROFILES
from .supplement import supplement
from .violations import STYLE_CODES, VIOLATIONS

__all__ = [
    "POLLUTION_RULES", "PROFILES", "PROFILE_FORMAT_CODES", "STYLE_CODES", "TAG_KINDS", "TAG_TEXT", "VIOLATIONS",
    "Boxed", "FormReport", "ParsedResponse", "Tag",
    "check", "find_boxed", "parse", "pollute", "supplement",
]
