"""Print a new CURVE key pair, Z85-encoded: `python -m gzmq.curve_keygen [--json] [--secret S]`.

As pyzmq's `python -m zmq.curve_keygen` (and libzmq's curve_keygen): `--secret` derives the
public key of an existing secret key instead. Needs PyNaCl (`gzmq.has("curve")`).
"""
import argparse
import json
import sys

import gzmq


def main(argv=None):
    name = __spec__.name if __spec__ is not None else "gzmq.curve_keygen"
    parser = argparse.ArgumentParser(prog=f"python3 -m {name}",
                                     description="Generate a ZeroMQ CURVE key pair (Z85).")
    parser.add_argument("--json", action="store_true", help="print the keys as a JSON object")
    parser.add_argument("--secret", help="derive the public key of this Z85 secret key")
    opts = parser.parse_args(_secret_joined(sys.argv[1:] if argv is None else list(argv)))
    if opts.secret:
        secret = opts.secret
        public = gzmq.curve_public(secret.encode()).decode()
    else:
        public, secret = (key.decode() for key in gzmq.curve_keypair())
    if opts.json:
        json.dump({"public": public, "secret": secret}, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print("== CURVE PUBLIC KEY ==", public, "", "== CURVE SECRET KEY ==", secret, sep="\n")


def _secret_joined(args):
    """`--secret KEY` as `--secret=KEY`: a Z85 key may start with '-' (1 key in 85), which
    argparse would otherwise take for an option."""
    for i, arg in enumerate(args[:-1]):
        if arg == "--secret":
            return args[:i] + [f"--secret={args[i + 1]}"] + args[i + 2:]
    return args


if __name__ == "__main__":
    main()
