"""gzmq's module-level constants are written out (as pyzmq's are) so that type checkers see them;
they must stay exactly the enums' members: every member under its pyzmq name, nothing else."""
import gzmq
from gzmq import constants as C

PLAIN = (C.SocketType, C.SocketOption, C.ContextOption, C.Flag, C.PollEvent, C.Errno, C.DeviceType,
         C.SecurityMechanism, C.MessageOption)
PREFIXED = ((C.RouterNotify, "NOTIFY_"), (C.ReconnectStop, "RECONNECT_STOP_"), (C.NormMode, "NORM_"),
            (C.Event, "EVENT_"))


def expected_aliases():
    """{name: (enum, member name)}; a later enum's member wins a name, as pyzmq's order has it."""
    names = {}
    for enum in PLAIN:
        for name in enum.__members__:
            names[name] = (enum, name)
    for enum, prefix in PREFIXED:
        for name in enum.__members__:
            # pyzmq's Event._global_name: the protocol error values keep their own names.
            global_name = name if name.startswith("PROTOCOL_ERROR_") else prefix + name
            names[global_name] = (enum, name)
    return names


def test_every_enum_member_has_its_module_level_alias():
    expected = expected_aliases()
    wrong = {name for name, (enum, member) in expected.items()
             if getattr(C, name, None) is not enum.__members__[member] or name not in C.__all__}
    # To regenerate after an enum changed, paste these lines into gzmq/constants.py.
    block = "\n".join(f"{n}: {e.__name__} = {e.__name__}.{m}" for n, (e, m) in expected.items())
    assert not wrong, f"missing or stale aliases {sorted(wrong)}; the block:\n{block}"


def test_all_lists_each_name_once_and_gzmq_reexports_them():
    assert len(C.__all__) == len(set(C.__all__))
    assert all(hasattr(C, name) for name in C.__all__)
    assert all(getattr(gzmq, name) is getattr(C, name) for name in C.__all__)
