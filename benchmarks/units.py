"""Human-readable sizes and figures for scenario names and the report table."""

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def size_label(size):
    """16 -> "16B", 1024 -> "1KiB", 1048576 -> "1MiB"."""
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20}MiB"
    if size >= 1 << 10 and size % (1 << 10) == 0:
        return f"{size >> 10}KiB"
    return f"{size}B"


def scale_for(value):
    """The (factor, prefix) to show value with: 1234567 -> (1e6, "M")."""
    for factor, prefix in _PREFIXES:
        if abs(value) >= factor:
            return factor, prefix
    return 1.0, ""


def significant(value, digits=3):
    """value with about `digits` significant digits, no exponent: 71.23 -> "71.2"."""
    if value == 0:
        return "0"
    decimals = max(0, digits - len(str(int(abs(value)))))
    if abs(value) < 1:
        decimals = digits
    return f"{value:.{decimals}f}"


def figure(value, scale=None):
    """1234567 -> "1.23M"; with an explicit (factor, prefix) scale, use that one."""
    factor, prefix = scale or scale_for(value)
    return significant(value / factor) + prefix
