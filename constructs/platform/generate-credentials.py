"""Creates the platform's Secrets inside the cluster, once, with random values.

Idempotent: a Secret that exists is kept (its values are the truth); copies in other namespaces are created
or brought back in line with it. Talks to the Kubernetes API with the pod's service-account token and the
Python standard library only. The spec (names, keys, namespaces; never values) comes from secrets.json.
"""
import base64
import json
import os
import secrets
import ssl
import string
import sys
import urllib.error
import urllib.request

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
HOST = os.environ["KUBERNETES_SERVICE_HOST"]
API = "https://{}:{}".format("[{}]".format(HOST) if ":" in HOST else HOST, os.environ["KUBERNETES_SERVICE_PORT"])
ALPHABET = string.ascii_letters + string.digits
LABELS = {"app.kubernetes.io/part-of": "cd4ml", "app.kubernetes.io/managed-by": "cd4ml-credentials"}

with open(SA + "/token") as f:
    TOKEN = f.read().strip()
CTX = ssl.create_default_context(cafile=SA + "/ca.crt")


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(API + path, data=data, method=method, headers={
        "Authorization": "Bearer " + TOKEN, "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}


def path(ns, name=None):
    return "/api/v1/namespaces/{}/secrets{}".format(ns, "/" + name if name else "")


def get(ns, name):
    status, body = call("GET", path(ns, name))
    if status == 200:
        return body
    if status == 404:
        return None
    sys.exit("reading secret {}/{}: HTTP {}: {}".format(ns, name, status, body.get("message")))


def create(ns, name, data):
    obj = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
           "metadata": {"name": name, "namespace": ns, "labels": LABELS}}
    status, body = call("POST", path(ns), obj)
    if status == 201:
        print("created {}/{}".format(ns, name))
        return True
    if status == 409:
        return False
    sys.exit("creating secret {}/{}: HTTP {}: {}".format(ns, name, status, body.get("message")))


def generate(keys):
    data = {}
    for key, how in keys.items():
        value = how["literal"] if "literal" in how else "".join(secrets.choice(ALPHABET) for _ in range(how["random"]))
        data[key] = base64.b64encode(value.encode()).decode()
    return data


def main():
    with open(os.environ.get("SPEC", "/config/secrets.json")) as f:
        spec = json.load(f)
    for s in spec:
        name, home, copies = s["name"], s["namespaces"][0], s["namespaces"][1:]
        existing = get(home, name)
        if existing is None:
            data = generate(s["keys"])
            if not create(home, name, data):  # lost a race with another run: take the winner's values
                data = get(home, name)["data"]
        else:
            data = existing.get("data") or {}
            missing = [k for k in s["keys"] if k not in data]
            if missing:
                sys.exit("secret {}/{} exists without keys {}: add them, or delete the secret to have it generated anew"
                         .format(home, name, ", ".join(missing)))
            print("kept {}/{}".format(home, name))
        for ns in copies:
            copy = get(ns, name)
            if copy is None:
                create(ns, name, data)
            elif (copy.get("data") or {}) != data:
                copy["data"] = data
                status, body = call("PUT", path(ns, name), copy)
                if status != 200:
                    sys.exit("updating secret {}/{}: HTTP {}: {}".format(ns, name, status, body.get("message")))
                print("updated {}/{} from {}/{}".format(ns, name, home, name))
            else:
                print("kept {}/{}".format(ns, name))


if __name__ == "__main__":
    main()
