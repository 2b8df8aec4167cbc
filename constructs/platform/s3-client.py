"""A small S3 client on the Python standard library: what our setup and backup Jobs need, for any S3 server.

    s3-client.py create-buckets BUCKET...           create each bucket unless it exists (needs an admin identity)
    s3-client.py upload DIR BUCKET PREFIX           upload every file under DIR to BUCKET/PREFIX/<relative path>
    s3-client.py prune BUCKET PREFIX DAYS           delete dumps under BUCKET/PREFIX/ named for a time over DAYS ago

Reads S3_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION (default us-east-1) from the environment and
signs every request with AWS Signature Version 4, path-style (https://docs.aws.amazon.com/IAM/latest/UserGuide/
create-signed-request.html). `prune` touches only keys shaped like the ones `upload` writes for a dump directory
(PREFIX/YYYYMMDDTHHMMSSZ/NAME), and judges their age by that name, so a shared bucket keeps everything else.
No credential value is ever printed.
"""
import datetime
import hashlib
import hmac
import http.client
import os
import re
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

PART = 16 * 1024 * 1024  # multipart above this size; S3 allows 10,000 parts, so parts grow for huge files
MAX_PARTS = 10000
STAMP = re.compile(r"^(\d{8}T\d{6}Z)/[^/]+$")


class S3Error(Exception):
    def __init__(self, status, code, message):
        super().__init__("HTTP {} {}: {}".format(status, code, message))
        self.status, self.code = status, code


class Client:
    def __init__(self, url, access_key, secret_key, region):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            sys.exit("S3_URL must be an http(s) URL, e.g. http://<service>.<namespace>.svc.cluster.local:<port>")
        self.scheme, self.netloc, self.host, self.port = u.scheme, u.netloc, u.hostname, u.port
        self.access_key, self.secret_key, self.region = access_key, secret_key, region

    def _sign(self, method, path, query, headers, payload_hash):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        headers = dict(headers, host=self.netloc, **{"x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
        names = sorted(k.lower() for k in headers)
        lower = {k.lower(): str(v).strip() for k, v in headers.items()}
        canonical_query = "&".join("{}={}".format(quote(k), quote(v)) for k, v in sorted(query.items()))
        canonical = "\n".join([method, path, canonical_query, "".join("{}:{}\n".format(n, lower[n]) for n in names),
                               ";".join(names), payload_hash])
        scope = "{}/{}/s3/aws4_request".format(day, self.region)
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}".format(
            self.access_key, scope, ";".join(names), signature)
        return headers

    def request(self, method, bucket, key="", query=None, body=b"", headers=None, ok=(200,)):
        query = query or {}
        path = "/" + quote(bucket, safe="") + ("/" + quote(key, safe="/") if key else "")
        headers = self._sign(method, path, query, headers or {}, hashlib.sha256(body).hexdigest())
        target = path + ("?" + "&".join("{}={}".format(quote(k), quote(v)) for k, v in sorted(query.items())) if query else "")
        last = None
        for attempt in range(5):  # the server may still be starting, or a connection may drop: retry, bounded
            try:
                status, header, data = self._exchange(method, target, body, headers)
            except (OSError, http.client.HTTPException) as err:  # a reset, or an answer cut short (IncompleteRead)
                last = err
                time.sleep(2 ** attempt)
                continue
            if status in ok:
                return header, data
            code, message = error_of(data)
            if status >= 500 and attempt < 4:
                last = S3Error(status, code, message)
                time.sleep(2 ** attempt)
                continue
            raise S3Error(status, code, message)
        raise last

    def _exchange(self, method, target, body, headers):
        """One HTTP exchange: (status, header lookup, body). A dropped connection raises OSError."""
        conn = (http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection)(self.host, self.port, timeout=60)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader, resp.read()
        finally:
            conn.close()

    def create_bucket(self, bucket):
        try:
            self.request("PUT", bucket)
            return True
        except S3Error as err:
            if err.status == 409 and err.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise

    def put_file(self, bucket, key, path):
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= PART:
                self.request("PUT", bucket, key, body=f.read())
                return
            part_size = max(PART, -(-size // MAX_PARTS))
            _, data = self.request("POST", bucket, key, query={"uploads": ""})
            upload_id = find(ET.fromstring(data), "UploadId")
            try:
                etags, number = [], 1
                while True:
                    chunk = f.read(part_size)
                    if not chunk:
                        break
                    header, _ = self.request("PUT", bucket, key, query={"partNumber": str(number), "uploadId": upload_id}, body=chunk)
                    etags.append((number, header("ETag")))
                    number += 1
                body = "<CompleteMultipartUpload>{}</CompleteMultipartUpload>".format("".join(
                    "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>".format(n, e) for n, e in etags)).encode()
                self.complete(bucket, key, upload_id, body, etags, size)
            except BaseException:
                self.request("DELETE", bucket, key, query={"uploadId": upload_id}, ok=(200, 204, 404))
                raise

    def complete(self, bucket, key, upload_id, body, etags, size):
        """Completes a multipart upload, and survives the retry of one whose answer was lost.

        A retried CompleteMultipartUpload finds the upload gone (NoSuchUpload) when the first attempt did complete it
        and only its answer was lost: then the object is checked instead, by its multipart ETag (the MD5 of the
        parts' MD5s, "-" and the number of parts) or, from a server whose ETags are not MD5s, by its size. S3 may also
        answer 200 with an error in the body, or cut the body short (https://docs.aws.amazon.com/AmazonS3/latest/API/
        API_CompleteMultipartUpload.html): an InternalError or SlowDown there is retried, an answer that does not
        parse is settled by checking the object, any other error fails.
        """
        for attempt in range(4):
            try:
                _, data = self.request("POST", bucket, key, query={"uploadId": upload_id}, body=body)
            except S3Error as err:
                if err.code == "NoSuchUpload" and self.is_whole(bucket, key, etags, size):
                    print("s3://{}/{}: the upload was completed by an attempt whose answer was lost".format(bucket, key), file=sys.stderr)
                    return
                raise
            try:
                root = ET.fromstring(data)
            except ET.ParseError:
                if self.is_whole(bucket, key, etags, size):
                    return
                time.sleep(2 ** attempt)
                continue
            if local(root.tag) != "Error":
                return
            code, message = find(root, "Code") or "", find(root, "Message") or ""
            if code not in ("InternalError", "SlowDown") or attempt == 3:
                raise S3Error(200, code, message)
            time.sleep(2 ** attempt)
        raise S3Error(200, "", "the completion of the upload did not answer intelligibly, and the object is not whole")

    def is_whole(self, bucket, key, etags, size):
        try:
            header, _ = self.request("HEAD", bucket, key)
        except S3Error:
            return False
        got = (header("ETag") or "").strip('"')
        digests = [e.strip('"') for _, e in etags]
        if all(re.fullmatch(r"[0-9a-f]{32}", d) for d in digests) and re.fullmatch(r"[0-9a-f]{32}-\d+", got):
            want = hashlib.md5(b"".join(bytes.fromhex(d) for d in digests), usedforsecurity=False).hexdigest() + "-{}".format(len(digests))
            return got == want
        return header("Content-Length") == str(size)

    def list_keys(self, bucket, prefix):
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            _, data = self.request("GET", bucket, query=query)
            root = ET.fromstring(data)
            for item in iter_named(root, "Contents"):
                yield find(item, "Key")
            token = find(root, "NextContinuationToken")
            if find(root, "IsTruncated") != "true" or not token:
                return

    def delete(self, bucket, key):
        self.request("DELETE", bucket, key, ok=(200, 204))


def quote(value, safe="-_.~"):
    return urllib.parse.quote(value, safe=safe)


def local(tag):
    return tag.rsplit("}", 1)[-1]


def iter_named(root, name):
    return (e for e in root if local(e.tag) == name)


def find(root, name):
    for e in root.iter():
        if local(e.tag) == name:
            return e.text or ""
    return None


def error_of(data):
    try:
        root = ET.fromstring(data)
        return find(root, "Code") or "", find(root, "Message") or ""
    except ET.ParseError:
        return "", data[:200].decode("utf-8", "replace")


def client():
    missing = [k for k in ("S3_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(k)]
    if missing:
        sys.exit("missing environment: " + ", ".join(missing))
    return Client(os.environ["S3_URL"], os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
                  os.environ.get("AWS_REGION", "us-east-1"))


def clean_prefix(prefix):
    prefix = prefix.strip("/")
    if not prefix:
        sys.exit("a prefix is required: dumps never go to the bucket's root, so a shared bucket stays safe")
    return prefix


def main(argv):
    if len(argv) >= 2 and argv[0] == "create-buckets":
        c = client()
        for bucket in argv[1:]:
            print("created bucket {}".format(bucket) if c.create_bucket(bucket) else "kept bucket {}".format(bucket))
    elif len(argv) == 4 and argv[0] == "upload":
        _, root, bucket, prefix = argv
        c, prefix, count = client(), clean_prefix(prefix), 0
        for d, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                path = os.path.join(d, name)
                key = "{}/{}".format(prefix, os.path.relpath(path, root).replace(os.sep, "/"))
                c.put_file(bucket, key, path)
                print("uploaded s3://{}/{} ({} bytes)".format(bucket, key, os.path.getsize(path)))
                count += 1
        if count == 0:
            sys.exit("nothing to upload under {}".format(root))
    elif len(argv) == 4 and argv[0] == "prune":
        _, bucket, prefix, days = argv
        c, prefix = client(), clean_prefix(prefix)
        cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=int(days))
        kept = deleted = 0
        for key in list(c.list_keys(bucket, prefix + "/")):
            m = STAMP.match(key[len(prefix) + 1:])
            if not m:
                continue  # not one of ours: never touched
            taken = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
            if taken < cutoff:
                c.delete(bucket, key)
                deleted += 1
            else:
                kept += 1
        print("pruned {} dump files older than {} days under s3://{}/{}/, kept {}".format(deleted, days, bucket, prefix, kept))
    else:
        sys.exit(__doc__)


def cli(argv):
    try:
        main(argv)
    except S3Error as err:
        sys.exit("S3: {}".format(err))


if __name__ == "__main__":
    cli(sys.argv[1:])
