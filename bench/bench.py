#!/usr/bin/env python3
"""casevault's benchmark harness; started by bench/run (which installs the tools and builds
the server first). Starts casevault, nginx, dufs and s3s-fs on 127.0.0.1 with their own data
under target/bench/run-<pid>/, runs every case several times after a warm-up and prints one
Markdown table of medians, ratios and targets. Measures, never asserts: the exit status is
non-zero only when the harness itself could not run a case.

Stdlib only.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KiB, MiB, GiB = 1024, 1024 ** 2, 1024 ** 3
TLS13_CIPHER = "TLS_AES_256_GCM_SHA384"
PASSWORD = "bench-password-0123456789"
EMAIL = "bench@example.org"

PROFILES = {
    # The sizes.
    "full": dict(big=1 * GiB, huge=5 * GiB, conc_n=20, conc_size=256 * MiB, small=64 * KiB,
                 small_files=64, wrk_seconds=10, wrk_conns=32, runs=5, wrk_runs=3,
                 flood_rate=1000, flood_seconds=10, flood_sources=200, legit_size=1 * MiB,
                 crypto_seconds=3),
    # Tiny sizes: proves the harness still runs (the test command calls it).
    "quick": dict(big=8 * MiB, huge=32 * MiB, conc_n=4, conc_size=2 * MiB, small=64 * KiB,
                  small_files=8, wrk_seconds=2, wrk_conns=8, runs=2, wrk_runs=1,
                  flood_rate=100, flood_seconds=2, flood_sources=4, legit_size=64 * KiB,
                  crypto_seconds=0.5),
}


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def human(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def median(values):
    return statistics.median(values) if values else None


class HarnessError(Exception):
    pass


# ------------------------------------------------------------------------------------------
# Processes and memory


class Procs:
    """Every process the harness starts; all are stopped at exit."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.items = []

    def spawn(self, name, cmd, **kw):
        logf = open(os.path.join(self.logdir, f"{name}.log"), "ab")
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.items.append((name, proc))
        return proc

    def wait_port(self, name, proc, port, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise HarnessError(f"{name} exited at start:\n{self.tail(name)}")
            if port_open(port):
                return
            time.sleep(0.05)
        raise HarnessError(f"{name} did not listen on {port} within {timeout}s:\n{self.tail(name)}")

    def tail(self, name, n=30):
        try:
            with open(os.path.join(self.logdir, f"{name}.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, proc, timeout=10):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()

    def stop_all(self):
        for _name, proc in reversed(self.items):
            self.stop(proc)
        self.items.clear()


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssWatch:
    """Peak resident memory of one process over a stretch of time: resets the kernel's
    high-water mark (clear_refs 5) and also samples VmRSS every 20 ms."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.before = rss_kib(pid) or 0
        self._stop = threading.Event()
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            v = rss_kib(self.pid)
            if v:
                self.peak = max(self.peak, v)
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._t.join()
        if self.hwm_reset:
            self.peak = max(self.peak, rss_kib(self.pid, "VmHWM") or 0)
        self.after = rss_kib(self.pid) or 0
        return self.peak / 1024.0  # MiB


# ------------------------------------------------------------------------------------------
# HTTP helpers


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request(port, method, path, body=None, headers=None, tls=True):
    """One request; returns (status, headers dict (lower-case), parsed JSON or bytes)."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls_ctx(), timeout=120)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs["content-type"] = "application/json"
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    rh = {}
    for k, v in resp.getheaders():
        rh.setdefault(k.lower(), []).append(v)
    conn.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data
    return resp.status, rh, parsed


def curl(url, *, method=None, upload=None, stdin_cmd=None, headers=(), out="/dev/null",
         s3=None, expect=(200,)):
    """One transfer with curl (HTTP/1.1; for https: TLS 1.3, AES-256-GCM, certificate not
    checked). upload: a file to send (-T); stdin_cmd: a shell command whose output is sent
    (-T -, chunked). Returns curl's -w %{json} measurements."""
    cmd = ["curl", "-sS", "--http1.1", "-o", out, "-w", "%{json}"]
    if not s3:  # no "Expect: 100-continue" round trip (curl would sign the empty header for S3)
        cmd += ["-H", "Expect:"]
    if url.startswith("https:"):
        cmd += ["-k", "--tlsv1.3", "--tls13-ciphers", TLS13_CIPHER]
    if method:
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    if s3:
        cmd += ["--aws-sigv4", f"aws:amz:{s3['region']}:s3", "--user",
                f"{s3['access']}:{s3['secret']}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    if upload:
        cmd += ["-T", upload]
    if stdin_cmd:
        cmd += ["-T", "-"]
        shell = f"{stdin_cmd} | " + " ".join(sh_quote(c) for c in cmd + [url])
        res = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    else:
        res = subprocess.run(cmd + [url], capture_output=True, text=True)
    try:
        info = json.loads(res.stdout)
    except ValueError:
        raise HarnessError(f"curl {url}: {res.stderr.strip()} {res.stdout[:200]}")
    code = info.get("http_code") or info.get("response_code")
    if res.returncode != 0 or code not in expect:
        raise HarnessError(f"curl {method or 'GET'} {url}: exit {res.returncode}, HTTP {code}: "
                           f"{res.stderr.strip()}")
    return info


def sh_quote(s):
    return "'" + str(s).replace("'", "'\\''") + "'"


def mbps(info, upload=False):
    n = info["size_upload"] if upload else info["size_download"]
    return n / info["time_total"] / 1e6


def repeat(label, runs, fn):
    """One warm-up, then `runs` measured runs; returns (median, values)."""
    fn(-1)
    values = [fn(i) for i in range(runs)]
    med = median(values)
    log(f"{label}: median {med:.1f} of {[round(v, 1) for v in values]}")
    return med, values


# ------------------------------------------------------------------------------------------
# The servers


class Casevault:
    def __init__(self, bench, name, storage_toml="", env=()):
        self.bench = bench
        self.name = name
        self.dir = os.path.join(bench.cv_root, name)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        self.port = free_port()
        self.cfg = os.path.join(self.dir, "casevault.toml")
        with open(self.cfg, "w") as f:
            f.write(f'data_dir = "{self.data}"\n\n[http]\nbind = "127.0.0.1"\nport = {self.port}\n\n'
                    f'[log]\nfilter = "warn"\n\n{storage_toml}')
        res = subprocess.run([bench.bin, "user", "create", "--email", EMAIL, "--name", "Bench",
                              "--quota", "4000GiB", "--password-stdin", "--config", self.cfg],
                             input=PASSWORD + "\n", capture_output=True, text=True)
        if res.returncode != 0:
            raise HarnessError(f"casevault user create: {res.stderr}{res.stdout}")
        extra = env
        env = dict(os.environ)
        env.update(kv.split("=", 1) for kv in list(bench.args.server_env) + list(extra))
        self.proc = bench.procs.spawn(name, [bench.bin, "serve", "--config", self.cfg], env=env)
        bench.procs.wait_port(name, self.proc, self.port)
        self.cert = os.path.join(self.data, "tls", "self-signed.crt")
        self.key = os.path.join(self.data, "tls", "self-signed.key")
        status, hdrs, body = request(self.port, "POST", "/api/v1/auth/login",
                                     {"email": EMAIL, "password": PASSWORD})
        if status != 200:
            raise HarnessError(f"login: {status} {body}")
        cookie = "; ".join(c.split(";", 1)[0] for c in hdrs.get("set-cookie", []))
        status, _, body = request(self.port, "POST", "/api/v1/tokens", {"name": "bench"},
                                  {"cookie": cookie, "x-csrf-token": body["csrf_token"]})
        if status not in (200, 201):
            raise HarnessError(f"token: {status} {body}")
        self.token = body["token"]
        self.auth = f"authorization: Bearer {self.token}"
        self.case = self.api("POST", "/api/v1/cases",
                             {"patient_ref": "bench-1", "title": "Benchmark"})["id"]
        self.counter = 0

    @property
    def pid(self):
        return self.proc.pid

    @property
    def base(self):
        return f"https://127.0.0.1:{self.port}"

    def api(self, method, path, body=None, ok=(200, 201)):
        status, _, parsed = request(self.port, method, path, body,
                                    {"authorization": f"Bearer {self.token}"})
        if status not in ok:
            raise HarnessError(f"{method} {path}: {status} {parsed}")
        return parsed

    def upload_url(self):
        return f"{self.base}/api/v1/cases/{self.case}/files"

    def name_header(self):
        self.counter += 1
        return f"x-file-name: {urllib.parse.quote(f'f{self.counter}.bin')}"

    def upload(self, path=None, stdin_cmd=None):
        out = os.path.join(self.dir, f"upload-{os.urandom(6).hex()}.json")
        info = curl(self.upload_url(), method="POST", upload=path, stdin_cmd=stdin_cmd,
                    headers=(self.auth, self.name_header()), out=out, expect=(200, 201))
        with open(out) as f:
            info["file"] = json.load(f)["id"]
        os.unlink(out)
        return info

    def content_path(self, file):
        return f"/api/v1/cases/{self.case}/files/{file}/content"

    def download(self, file):
        return curl(self.base + self.content_path(file), headers=(self.auth,))

    def delete(self, file):
        self.api("DELETE", f"/api/v1/cases/{self.case}/files/{file}", ok=(200, 204))

    def share(self, file):
        """A read link to `file` (unlimited downloads) and its password."""
        body = self.api("POST", "/api/v1/grants", {"case": self.case, "file": file, "role": "read"})
        return body["link"].rsplit("/", 1)[1], body["password"]

    def open_link(self, token, password):
        status, hdrs, body = request(self.port, "POST", f"/api/v1/links/{token}/session",
                                     {"password": password})
        if status != 201:
            raise HarnessError(f"link session: {status} {body}")
        return "; ".join(c.split(";", 1)[0] for c in hdrs.get("set-cookie", []))


class Nginx:
    def __init__(self, bench, www, cert, key):
        self.dir = os.path.join(bench.work, "nginx")
        for d in ("tmp", "logs"):
            os.makedirs(os.path.join(self.dir, d))
        os.makedirs(os.path.join(www, "dav"), exist_ok=True)
        self.port = free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        dav_ext = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"
        load = f"load_module {dav_ext};" if os.path.exists(dav_ext) else ""
        ext = "dav_ext_methods PROPFIND OPTIONS;" if load else ""
        t = os.path.join(self.dir, "tmp")
        conf = f"""
{load}
{user}
worker_processes auto;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites {TLS13_CIPHER};
        root {www};
        location /dav/ {{
            dav_methods PUT DELETE;
            {ext}
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = bench.procs.spawn("nginx", ["nginx", "-c", self.conf, "-p", self.dir,
                                                "-e", f"{self.dir}/logs/error.log"])
        bench.procs.wait_port("nginx", self.proc, self.port)
        self.base = f"https://127.0.0.1:{self.port}"


# ------------------------------------------------------------------------------------------
# The benchmark


class Row:
    def __init__(self, rid, case, ours, ref, ratio=None, target=None, met=None, unit="MB/s"):
        self.rid, self.case, self.ours, self.ref = rid, case, ours, ref
        self.ratio, self.target, self.met, self.unit = ratio, target, met, unit


class Bench:
    def __init__(self, args):
        self.args = args
        self.mode = "quick" if args.quick else "full"
        self.p = dict(PROFILES[self.mode])
        if args.runs:
            self.p["runs"] = args.runs
        self.bin = os.path.abspath(args.bin)
        self.base_work = os.path.join(ROOT, "target", "bench")
        self.work = os.path.join(self.base_work, f"run-{os.getpid()}")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(os.path.join(self.work, "logs"))
        self.procs = Procs(os.path.join(self.work, "logs"))
        # casevault's data folders (metadata database, local object store): in the work
        # directory, or under --casevault-root (e.g. a tmpfs, to see what disk syncs cost).
        self.cv_root = self.work
        if args.casevault_root:
            self.cv_root = os.path.join(os.path.abspath(args.casevault_root), f"bench-{os.getpid()}")
            os.makedirs(self.cv_root)
        self.rows = []
        self.details = []
        self.errors = []
        self.single_rss = {}
        self.notes = {}
        notes = os.path.join(HERE, "notes.json")
        if os.path.exists(notes):
            with open(notes) as f:
                self.notes = json.load(f)
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.load_start = os.getloadavg()

    # -- setup ------------------------------------------------------------------------------

    def make_file(self, path, size):
        with open(path, "wb") as f:
            left = size
            block = os.urandom(4 * MiB)
            while left > 0:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
                block = os.urandom(4 * MiB) if left % (64 * MiB) == 0 else block

    def setup(self):
        p = self.p
        self.www = os.path.join(self.work, "www")
        os.makedirs(os.path.join(self.www, "small"))
        self.big = os.path.join(self.www, "big.bin")
        log(f"writing the {human(p['big'])} test file")
        self.make_file(self.big, p["big"])
        self.legit = os.path.join(self.work, "legit.bin")
        self.make_file(self.legit, p["legit_size"])
        self.small = []
        for i in range(p["small_files"]):
            path = os.path.join(self.www, "small", f"s{i}.bin")
            self.make_file(path, p["small"])
            self.small.append(path)

        log("starting casevault (local store)")
        self.cv = Casevault(self, "casevault")
        log("starting nginx")
        self.nginx = Nginx(self, self.www, self.cv.cert, self.cv.key)
        log("starting dufs")
        self.dufs_port = free_port()
        proc = self.procs.spawn("dufs", ["dufs", "--bind", "127.0.0.1", "--port",
                                         str(self.dufs_port), self.www])
        self.procs.wait_port("dufs", proc, self.dufs_port)
        self.tls_check = {
            "casevault": self.s_client(self.cv.port),
            "nginx": self.s_client(self.nginx.port),
        }
        log(f"TLS negotiated by a default OpenSSL client: {self.tls_check}")

    def s_client(self, port):
        res = subprocess.run(["openssl", "s_client", "-brief", "-connect", f"127.0.0.1:{port}"],
                             input="", capture_output=True, text=True, timeout=20)
        text = res.stdout + res.stderr
        proto = re.search(r"Protocol version:\s*(\S+)", text)
        suite = re.search(r"Ciphersuite:\s*(\S+)", text)
        return f"{proto.group(1) if proto else '?'} {suite.group(1) if suite else '?'}"

    def add(self, *a, **kw):
        row = Row(*a, **kw)
        self.rows.append(row)
        return row

    def case(self, name, fn):
        log(f"=== {name}")
        try:
            fn()
        except Exception as err:  # recorded; the run goes on with the next case
            import traceback
            traceback.print_exc()
            self.errors.append(f"{name}: {err}")
            self.add("!", f"{name}: harness error", f"`{str(err).splitlines()[0][:120]}`", "", None)

    # -- 1. downloads -----------------------------------------------------------------------

    def case_download(self):
        p, cv = self.p, self.cv
        size = p["big"]
        info = cv.upload(self.big)
        self.big_file = info["file"]
        rss = {}

        def owner(i):
            w = RssWatch(cv.pid)
            v = mbps(cv.download(self.big_file))
            rss["owner"] = max(rss.get("owner", 0), w.stop())
            return v

        token, password = cv.share(self.big_file)
        cookie = cv.open_link(token, password)
        link_url = f"{cv.base}/api/v1/link/files/{self.big_file}/content"

        def link(i):
            return mbps(curl(link_url, headers=(f"cookie: {cookie}",)))

        def nginx(i):
            return mbps(curl(f"{self.nginx.base}/big.bin"))

        def dufs(i):
            return mbps(curl(f"http://127.0.0.1:{self.dufs_port}/big.bin"))

        runs = p["runs"]
        ng, ngv = repeat("nginx TLS download", runs, nginx)
        ow, owv = repeat("casevault owner download", runs, owner)
        li, liv = repeat("casevault link download", runs, link)
        du, duv = repeat("dufs plain-HTTP download", runs, dufs)
        self.single_rss["download"] = rss["owner"]
        h = human(size)
        self.add("1a", f"Download {h}, one stream, TLS: owner", ow, f"nginx {ng:.0f}", ow / ng,
                 "≥ 0.90× nginx", ow / ng >= 0.9)
        self.add("1b", f"Download {h}, one stream, TLS: share link", li, f"nginx {ng:.0f}", li / ng,
                 "≥ 0.90× nginx", li / ng >= 0.9)
        self.add("1c", f"Download {h}: dufs, plain HTTP as it ships (casevault owner / dufs)", ow,
                 f"dufs {du:.0f}", ow / du)
        self.details.append(("1. download runs (MB/s)", {"nginx": ngv, "owner": owv, "link": liv,
                                                          "dufs": duv}))

    # -- 2. uploads -------------------------------------------------------------------------

    def case_upload(self):
        p, cv = self.p, self.cv
        dav = os.path.join(self.www, "dav")

        def ours(i):
            w = RssWatch(cv.pid)
            info = cv.upload(self.big)
            self.single_rss["upload"] = max(self.single_rss.get("upload", 0), w.stop())
            cv.delete(info["file"])
            return mbps(info, upload=True)

        def nginx(i):
            info = curl(f"{self.nginx.base}/dav/up{i}.bin", upload=self.big, expect=(201, 204))
            os.unlink(os.path.join(dav, f"up{i}.bin"))
            return mbps(info, upload=True)

        runs = p["runs"]
        ng, ngv = repeat("nginx TLS WebDAV PUT", runs, nginx)
        us, usv = repeat("casevault upload", runs, ours)
        self.add("2", f"Upload {human(p['big'])}, one stream, TLS", us, f"nginx PUT {ng:.0f}",
                 us / ng, "≥ 0.90× nginx", us / ng >= 0.9)
        self.details.append(("2. upload runs (MB/s)", {"nginx": ngv, "casevault": usv}))

    # -- 3. many small files ----------------------------------------------------------------

    def wrk(self, base, paths, header=None):
        script = os.path.join(self.work, f"wrk-{random.randrange(1 << 30)}.lua")
        with open(script, "w") as f:
            f.write("paths = {" + ",".join(json.dumps(x) for x in paths) + "}\n"
                    "i = 0\n"
                    "request = function()\n"
                    "  i = i + 1\n"
                    "  return wrk.format('GET', paths[(i % #paths) + 1])\n"
                    "end\n")
        cmd = ["wrk", "-t", "2", "-c", str(self.p["wrk_conns"]), "-d",
               f"{self.p['wrk_seconds']}s", "--latency", "-s", script]
        if header:
            cmd += ["-H", header]
        res = subprocess.run(cmd + [base], capture_output=True, text=True)
        out = res.stdout
        if res.returncode != 0 or "Requests/sec" not in out:
            raise HarnessError(f"wrk: {res.stderr}{out}")
        if "Non-2xx" in out or "Socket errors" in out:
            raise HarnessError(f"wrk saw errors:\n{out}")

        def ms(text):
            m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
            v = float(m.group(1))
            return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[m.group(2)]

        rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
        p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
        p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
        return rps, p50, p99

    def case_small(self):
        p, cv = self.p, self.cv
        ids = [cv.upload(path)["file"] for path in self.small]
        ours_paths = [cv.content_path(i) for i in ids]
        ng_paths = [f"/small/{os.path.basename(x)}" for x in self.small]
        results = {"nginx": [], "casevault": []}
        # Warm-up, then alternate so that a disturbance hits both alike.
        self.wrk(self.nginx.base, ng_paths)
        self.wrk(cv.base, ours_paths, cv.auth)
        for _ in range(p["wrk_runs"]):
            results["nginx"].append(self.wrk(self.nginx.base, ng_paths))
            results["casevault"].append(self.wrk(cv.base, ours_paths, cv.auth))
        med = {k: [median([r[j] for r in v]) for j in range(3)] for k, v in results.items()}
        log(f"64 KiB GETs: {results}")
        o, n = med["casevault"], med["nginx"]
        c = p["wrk_conns"]
        self.add("3a", f"{human(p['small'])} GETs ({p['small_files']} files), {c} connections, "
                 f"{p['wrk_seconds']} s: requests/s", o[0], f"nginx {n[0]:.0f}", o[0] / n[0],
                 "≥ 0.70× nginx", o[0] / n[0] >= 0.7, unit="req/s")
        self.add("3b", f"… latency p50 / p99 (ms)", f"{o[1]:.2f} / {o[2]:.2f}",
                 f"nginx {n[1]:.2f} / {n[2]:.2f}", None, unit="ms")
        self.details.append(("3. wrk runs (req/s, p50 ms, p99 ms)", results))

    # -- 4. memory --------------------------------------------------------------------------

    def case_memory(self):
        p, cv = self.p, self.cv
        peaks = {}
        for size in (p["big"], p["huge"]):
            w = RssWatch(cv.pid)
            info = cv.upload(stdin_cmd=f"head -c {size} /dev/zero")
            peaks[("upload", size)] = w.stop()
            w = RssWatch(cv.pid)
            cv.download(info["file"])
            peaks[("download", size)] = w.stop()
            cv.delete(info["file"])
            log(f"peak RSS at {human(size)}: upload {peaks[('upload', size)]:.1f} MiB, "
                f"download {peaks[('download', size)]:.1f} MiB (before: {w.before / 1024:.1f})")
        # Concurrent: N uploads and N downloads at once.
        n, size = p["conc_n"], p["conc_size"]
        files = [cv.upload(stdin_cmd=f"head -c {size} /dev/zero")["file"] for _ in range(n)]
        w = RssWatch(cv.pid)
        errors = []
        done = []

        def run(fn):
            try:
                done.append(fn())
            except Exception as err:
                errors.append(err)

        t0 = time.time()
        threads = [threading.Thread(target=run, args=(lambda f=f: cv.download(f),)) for f in files]
        threads += [threading.Thread(
            target=run, args=(lambda: cv.upload(stdin_cmd=f"head -c {size} /dev/zero"),))
            for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        conc = w.stop()
        if errors:
            raise HarnessError(f"concurrent transfers: {errors[0]}")
        for info in done:
            if "file" in info:
                cv.delete(info["file"])
        for f in files:
            cv.delete(f)
        agg = 2 * n * size / elapsed / 1e6
        big, huge = p["big"], p["huge"]
        for kind in ("upload", "download"):
            a, b = peaks[(kind, big)], peaks[(kind, huge)]
            self.add(f"4{kind[0]}", f"Peak RSS, one {human(huge)} {kind} (at {human(big)})",
                     b, f"{a:.1f} at {human(big)}", None,
                     f"< 64 MiB, flat in size", b < 64 and b <= a * 1.1 + 2, unit="MiB")
        self.add("4c", f"Peak RSS, {n} × {human(size)} uploads + {n} downloads at once "
                 f"(aggregate {agg:.0f} MB/s)", conc, "", None, unit="MiB")
        self.details.append(("4. peak RSS (MiB)", {f"{k} {human(s)}": round(v, 1)
                                                    for (k, s), v in peaks.items()}))

    # -- 5. crypto --------------------------------------------------------------------------

    def case_crypto(self):
        secs = self.p["crypto_seconds"]
        res = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "16384",
                              "-seconds", str(max(1, int(secs)))], capture_output=True, text=True)
        m = None
        for line in res.stdout.splitlines():
            if line.lower().startswith("aes-256-gcm"):
                m = line.split()[-1]
        if not m:
            raise HarnessError(f"openssl speed: {res.stderr}{res.stdout}")
        openssl = float(m.rstrip("k")) * 1000 / 1e9  # GB/s
        env = dict(os.environ, CHUNK_SIZES="65536")
        cmd = ["cargo", "bench", "-p", "casevault-crypto", "--bench", "stream"]
        if self.mode == "quick":
            cmd += ["--profile", "dev"]
        build = subprocess.run(["nice", "-n", "15"] + cmd + ["--no-run"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
        if build.returncode != 0:
            raise HarnessError(f"cargo bench --no-run: {build.stderr[-2000:]}")
        res = subprocess.run(cmd + ["--", "--warm-up-time", str(max(secs / 3, 0.2)),
                                    "--measurement-time", str(secs), "chunk/"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise HarnessError(f"cargo bench: {res.stderr[-2000:]}")
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        out = {}
        for op in ("encrypt", "decrypt"):
            path = os.path.join(target, "criterion", "chunk", f"{op}_64KiB", "new",
                                "estimates.json")
            with open(path) as f:
                ns = json.load(f)["median"]["point_estimate"]
            out[op] = 65536 / ns  # GB/s
        for op, rid in (("encrypt", "5a"), ("decrypt", "5b")):
            v = out[op]
            self.add(rid, f"Chunk {op}ion, 64 KiB chunks, one core (cargo bench)", v,
                     f"openssl {openssl:.2f}", v / openssl, "≥ 0.80× openssl", v / openssl >= 0.8,
                     unit="GB/s")
        self.details.append(("5. crypto (GB/s)", {"openssl aes-256-gcm 16 KiB": openssl, **out}))

    # -- 6. password flood ------------------------------------------------------------------

    # glibc raises its mmap threshold to the size of the first freed large block (argon2's
    # 19 MiB), after which such blocks come from per-thread arenas and stay resident; a fixed
    # threshold keeps them mmap'ed and returned. Run with it as well, to show the difference.
    MALLOC_FIX = "MALLOC_MMAP_THRESHOLD_=1048576"

    def case_flood(self):
        self.flood_on(self.cv, "6", "")
        if self.mode == "full":
            log(f"starting casevault with {self.MALLOC_FIX} (experiment)")
            cv = Casevault(self, "casevault-malloc", env=[self.MALLOC_FIX])
            self.flood_on(cv, "6x", f" [server started with {self.MALLOC_FIX}]")
            self.procs.stop(cv.proc)

    def flood_on(self, cv, prefix, suffix):
        p = self.p
        legit_file = cv.upload(self.legit)["file"]
        token, password = cv.share(legit_file)
        cookie = cv.open_link(token, password)
        target_token, _ = cv.share(legit_file)
        legit_cmd = [sys.executable, os.path.join(HERE, "legit.py"), "--port", str(cv.port),
                     "--path", f"/api/v1/link/files/{legit_file}/content",
                     "--header", f"cookie: {cookie}", "--duration", str(p["flood_seconds"])]

        def legit_only():
            res = subprocess.run(legit_cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise HarnessError(f"legit.py: {res.stderr}")
            out = json.loads(res.stdout)
            if set(out["failures"]) - {"409"} or not out["count"]:
                raise HarnessError(f"legitimate downloads failed: {out}")
            return out

        legit_only()  # warm-up
        quiet = legit_only()
        body = json.dumps({"password": "wrong-password-attempt"})

        def flood(paths, sources):
            w = RssWatch(cv.pid)
            before = w.before / 1024
            fl = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "flood.py"), "--port", str(cv.port),
                 "--body", body, "--rate", str(p["flood_rate"]),
                 "--duration", str(p["flood_seconds"]), "--sources", str(sources)]
                + sum((["--path", x] for x in paths), []),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            lg = legit_only()
            fout, ferr = fl.communicate(timeout=120)
            if fl.returncode != 0:
                raise HarnessError(f"flood.py: {ferr}")
            peak = w.stop()
            time.sleep(1)
            return json.loads(fout), lg, before, peak, (rss_kib(cv.pid) or 0) / 1024

        # a) one client address hammering one real link
        fa, la, before_a, peak_a, after_a = flood([f"/api/v1/links/{target_token}/session"], 1)
        # b) many client addresses, each guessing unknown tokens
        paths = [f"/api/v1/links/{os.urandom(32).hex()}/session" for _ in range(64)]
        fb, lb, before_b, peak_b, after_b = flood(paths, p["flood_sources"])
        qp99 = quiet["p99_ms"]
        rate = p["flood_rate"]
        for rid, label, f, lg, before, peak, after in (
                (prefix + "a", f"one address, one link", fa, la, before_a, peak_a, after_a),
                (prefix + "b", f"{p['flood_sources']} addresses, unknown links", fb, lb, before_b,
                 peak_b, after_b)):
            growth = peak - before
            st = ", ".join(f"{k}: {v}" for k, v in sorted(f["statuses"].items()))
            self.add(rid + "-rss", f"Password flood {rate}/s × {p['flood_seconds']} s ({label}; "
                     f"sent {f['rate']:.0f}/s; answers {st}){suffix}: RSS growth",
                     growth, f"{before:.1f} → peak {peak:.1f} → {after:.1f}", None, "< 50 MiB",
                     growth < 50, unit="MiB")
            busy = lg["failures"].get("409", 0)
            self.add(rid + "-p99", f"… legitimate {human(p['legit_size'])} link download p99 "
                     f"(p50 {lg['p50_ms']:.1f} ms, {lg['count']} downloads"
                     f"{f', {busy} answered 409 busy' if busy else ''})", lg["p99_ms"],
                     f"quiet {qp99:.1f} (p50 {quiet['p50_ms']:.1f})", lg["p99_ms"] / qp99,
                     "< 2× quiet p99", lg["p99_ms"] < 2 * qp99, unit="ms")
        self.details.append((f"6. flood{suffix}", {"quiet": quiet, "a": {"flood": fa, "legit": la},
                                          "b": {"flood": fb, "legit": lb}}))

    # -- 7. S3 backend ----------------------------------------------------------------------

    def case_s3(self):
        p = self.p
        s3dir = os.path.join(self.work, "s3")
        bucket = "casevault-bench"
        os.makedirs(os.path.join(s3dir, bucket))
        port = free_port()
        s3 = {"region": "us-east-1", "access": "bench" + os.urandom(4).hex(),
              "secret": os.urandom(20).hex()}
        proc = self.procs.spawn("s3s-fs", ["s3s-fs", "--host", "127.0.0.1", "--port", str(port),
                                           "--access-key", s3["access"], "--secret-key",
                                           s3["secret"], s3dir])
        self.procs.wait_port("s3s-fs", proc, port)
        storage = (f'[storage]\nbackend = "s3"\n\n[storage.s3]\nendpoint = "http://127.0.0.1:{port}"\n'
                   f'bucket = "{bucket}"\nregion = "{s3["region"]}"\naccess_key_id = "{s3["access"]}"\n'
                   f'secret_access_key = "{s3["secret"]}"\nallow_http = true\n')
        log("starting casevault (S3 store)")
        cv = Casevault(self, "casevault-s3", storage)
        bucket_dir = os.path.join(s3dir, bucket)

        def objects():
            found = {}
            for dirpath, _dirs, names in os.walk(bucket_dir):
                for name in names:
                    full = os.path.join(dirpath, name)
                    found[os.path.relpath(full, bucket_dir)] = os.path.getsize(full)
            return found

        seen = objects()
        info = cv.upload(self.big)
        new = {k: v for k, v in objects().items() if k not in seen}
        key = max(new, key=new.get)
        s3url = f"http://127.0.0.1:{port}/{bucket}"

        def dl(i):
            return mbps(cv.download(info["file"]))

        def direct_get(i):
            return mbps(curl(f"{s3url}/{urllib.parse.quote(key)}", s3=s3))

        def ul(i):
            up = cv.upload(self.big)
            cv.delete(up["file"])
            return mbps(up, upload=True)

        def direct_put(i):
            return mbps(curl(f"{s3url}/direct-{i + 1}.bin", upload=self.big, s3=s3), upload=True)

        runs = p["runs"]
        g, gv = repeat("direct S3 GET", runs, direct_get)
        d, dv = repeat("casevault-on-S3 download", runs, dl)
        pt, pv = repeat("direct S3 PUT", runs, direct_put)
        u, uv = repeat("casevault-on-S3 upload", runs, ul)
        h = human(p["big"])
        self.add("7a", f"S3 backend: download {h}, TLS (vs direct S3 GET of the stored object, "
                 f"plain HTTP)", d, f"S3 GET {g:.0f}", d / g)
        self.add("7b", f"S3 backend: upload {h}, TLS (vs direct S3 PUT, plain HTTP)", u,
                 f"S3 PUT {pt:.0f}", u / pt)
        self.details.append(("7. S3 runs (MB/s)", {"direct GET": gv, "casevault download": dv,
                                                    "direct PUT": pv, "casevault upload": uv}))
        self.procs.stop(cv.proc)
        self.procs.stop(proc)

    # -- report -----------------------------------------------------------------------------

    def machine(self):
        def first(cmd):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
                return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
            except OSError:
                return "?"

        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        mem = "?"
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        return [
            ("CPU", f"{model}, {os.cpu_count()} logical cores"),
            ("memory", mem),
            ("kernel", platform.release()),
            ("OS", first(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"])),
            ("casevault", f"{first([self.bin, '--version'])} ({'debug' if self.mode == 'quick' else 'release'} build)"),
            ("nginx", first(["nginx", "-v"])),
            ("dufs", first(["dufs", "--version"])),
            ("s3s-fs", first(["s3s-fs", "--version"])),
            ("curl", first(["curl", "--version"])),
            ("openssl", first(["openssl", "version"])),
            ("wrk", first(["wrk", "-v"])),
            ("rustc", first(["rustc", "--version"])),
            ("load average", f"{self.load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"),
        ]

    def table(self):
        lines = ["| # | case | casevault | reference | ratio | target | met | notes |",
                 "|---|---|---:|---:|---:|---|---|---|"]
        for r in self.rows:
            ours = r.ours if isinstance(r.ours, str) else (
                f"{r.ours:.2f} {r.unit}" if r.unit in ("GB/s",) else
                f"{r.ours:.1f} {r.unit}" if r.unit in ("MiB", "ms") else f"{r.ours:.0f} {r.unit}")
            ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
            met = "" if r.met is None else ("**met**" if r.met else "**not met**")
            note = self.notes.get(r.rid, "")
            lines.append(f"| {r.rid} | {r.case} | {ours} | {r.ref} | {ratio} | {r.target or ''} "
                         f"| {met} | {note} |")
        return "\n".join(lines)

    def report(self):
        end = datetime.datetime.now(datetime.timezone.utc)
        md = [f"Run: `bench/run{' --quick' if self.mode == 'quick' else ''}`, "
              f"{self.started:%Y-%m-%d %H:%M} UTC, {round((end - self.started).total_seconds() / 60)} min; "
              f"medians of {self.p['runs']} runs after one warm-up (wrk: {self.p['wrk_runs']}); "
              f"MB/s = 10⁶ bytes per second, including the TLS handshake and the server's answer.",
              "",
              "Machine:", ""]
        md += [f"- {k}: {v}" for k, v in self.machine()]
        md += ["", f"TLS as negotiated by a default OpenSSL client: casevault "
               f"{self.tls_check.get('casevault', '?')}, nginx {self.tls_check.get('nginx', '?')}; "
               f"curl is pinned to TLS 1.3 with {TLS13_CIPHER} and HTTP/1.1.", "",
               self.table(), "", "<details><summary>Every run</summary>", ""]
        for title, data in self.details:
            md.append(f"- {title}: `{json.dumps(data, default=str)}`")
        md += ["", "</details>"]
        if self.errors:
            md += ["", "Harness errors:", ""] + [f"- {e}" for e in self.errors]
        return "\n".join(md)

    def run(self):
        self.tls_check = {}
        try:
            self.setup()
            wanted = self.args.only.split(",") if self.args.only else None
            for key, name, fn in (("1", "1. download", self.case_download),
                                  ("2", "2. upload", self.case_upload),
                                  ("3", "3. small files", self.case_small),
                                  ("4", "4. memory", self.case_memory),
                                  ("5", "5. crypto", self.case_crypto),
                                  ("6", "6. password flood", self.case_flood),
                                  ("7", "7. S3 backend", self.case_s3)):
                if wanted is None or key in wanted:
                    self.case(name, fn)
        except Exception as err:
            import traceback
            traceback.print_exc()
            self.errors.append(f"setup: {err}")
        finally:
            self.procs.stop_all()
        text = self.report()
        print(text)
        out = self.args.out
        if out:
            write_section(out, text, self.mode)
            log(f"table written to {out}")
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
            if self.cv_root != self.work:
                shutil.rmtree(self.cv_root, ignore_errors=True)
        else:
            log(f"work directory kept: {self.work}")
        return 1 if self.errors else 0


BEGIN = "<!-- bench/run: generated results begin -->"
END = "<!-- bench/run: generated results end -->"


def write_section(path, text, mode):
    """Replace the generated part of `path` (between the markers), keeping the rest."""
    block = f"{BEGIN}\n{text}\n{END}"
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = (old or f"# casevault benchmarks ({mode} run)\n\n") + "\n" + block + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bin", required=True, help="the casevault binary")
    ap.add_argument("--out", help="Markdown file whose generated section is replaced")
    ap.add_argument("--only", help="comma-separated case numbers, e.g. 1,3")
    ap.add_argument("--runs", type=int, help="measured runs per case")
    ap.add_argument("--keep", action="store_true", help="keep target/bench/run-<pid>")
    ap.add_argument("--casevault-root", metavar="DIR",
                    help="put casevault's data folders under DIR (experiments, e.g. /dev/shm)")
    ap.add_argument("--server-env", action="append", default=[], metavar="K=V",
                    help="extra environment for casevault serve (profiling experiments)")
    args = ap.parse_args()
    bench = Bench(args)

    def on_signal(signum, _frame):
        bench.procs.stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.exit(bench.run())


if __name__ == "__main__":
    main()
