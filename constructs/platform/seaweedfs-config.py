"""Writes SeaweedFS's S3 identities file from the generated credentials, before the server starts.

The spec (/config/identities.json: each identity's name, the environment variables holding its keys, its actions;
never a key) comes from the ConfigMap; the keys come from Secrets as environment variables. The file goes to a
memory-backed volume only this pod mounts, readable by its user alone.
Format: https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API#static-configuration
"""
import json
import os
import sys

SPEC = os.environ.get("SPEC", "/config/identities.json")
OUT = os.environ.get("OUT", "/run/seaweedfs/s3.json")


def main():
    with open(SPEC) as f:
        spec = json.load(f)
    identities, missing = [], []
    for ident in spec["identities"]:
        access, secret = os.environ.get(ident["accessKeyEnv"]), os.environ.get(ident["secretKeyEnv"])
        if not access or not secret:
            missing.append(ident["name"])
            continue
        identities.append({"name": ident["name"], "credentials": [{"accessKey": access, "secretKey": secret}],
                           "actions": ident["actions"]})
    if missing:
        sys.exit("no keys in the environment for identities: " + ", ".join(missing))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fd = os.open(OUT + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"identities": identities}, f)
    os.replace(OUT + ".tmp", OUT)
    print("wrote {} identities: {}".format(len(identities), ", ".join(i["name"] for i in identities)))


if __name__ == "__main__":
    main()
