#!/usr/bin/python3
"""The .deb, as an operator gets it: built with CPack from a build folder,
unpacked into a scratch root (dpkg-deb -x, so the test needs no root and
leaves the machine as it was), checked for what it must hold, and run: the
installed supervisor starts its master and workers on free loopback ports,
serves a join, a poll, a throw and the pages from the installed tree, says
its version, and stops cleanly on SIGTERM.

Usage: smoke.py BUILD_DIR      (ctest runs it; exit status 0 = passed)
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request

GUARD_S = 60


def fail(message):
    print("package smoke: FAILED: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def http(method, url, body=None, token=None):
    request = urllib.request.Request(url, method=method, data=body.encode() if body is not None else None)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=GUARD_S) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main(build):
    work = tempfile.mkdtemp(prefix="sprites-package-")
    subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"), "-B", work],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    debs = [f for f in os.listdir(work) if f.endswith(".deb")]
    check(len(debs) == 1, "cpack made %r" % debs)
    deb = os.path.join(work, debs[0])

    control = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Depends"], check=True,
                             capture_output=True, text=True).stdout
    check("Package: sprites" in control, control)
    for needed in ("libuv1", "libnats3.4", "zlib1g", "python3"):
        check(needed in control, "Depends lacks %s: %s" % (needed, control))
    conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], check=True, capture_output=True).stdout
    check(b"conffiles" in conffiles, "no conffiles in the control archive")

    root = os.path.join(work, "root")
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    for path in ("usr/bin/sprites-supervisor", "usr/bin/sprites-cli", "usr/lib/sprites/sprites-master",
                 "usr/lib/sprites/sprites-worker", "usr/share/sprites/web/play.html",
                 "usr/share/sprites/web/status.html", "lib/systemd/system/sprites.service", "etc/default/sprites",
                 "usr/lib/sysctl.d/60-sprites.conf", "etc/security/limits.d/sprites.conf"):
        check(os.path.exists(os.path.join(root, path)), "the package lacks /" + path)
    with open(os.path.join(root, "lib/systemd/system/sprites.service")) as unit:
        check("ExecStart=/usr/bin/sprites-supervisor\n" in unit.read(), "the unit does not start /usr/bin/sprites-supervisor")

    supervisor = os.path.join(root, "usr/bin/sprites-supervisor")
    version = subprocess.run([supervisor, "--version"], capture_output=True, text=True, timeout=GUARD_S)
    check(version.returncode == 0 and version.stdout.startswith("sprites-supervisor 0."), version.stdout + version.stderr)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRITES_")}
    relay = subprocess.Popen([supervisor, "--host", "127.0.0.1", "--master-port", "0", "--worker-port", "0",
                              "--workers", "1", "--ipc-path", os.path.join(work, "ipc", "relay.sock")],
                             stdout=subprocess.PIPE, text=True, env=env, preexec_fn=lambda: os.makedirs(
                                 os.path.join(work, "ipc"), mode=0o700, exist_ok=True))
    try:
        line = relay.stdout.readline()
        m = re.match(r"ready master=(\S+) worker=(\S+) workers=1$", line.strip())
        check(m is not None, "no ready line from the installed supervisor: %r" % line)
        master, worker = "http://" + m.group(1), "http://" + m.group(2)

        status, body = http("POST", master + "/v1/nodes", json.dumps({"group": "pkg", "name": "smoke"}))
        check(status == 201, "join: %d %r" % (status, body))
        node = json.loads(body)
        status, body = http("POST", "%s/v1/nodes/%s/sprites" % (worker, node["node"]),
                            json.dumps({"direction": "left", "sprite": {"kind": "slime"}}), node["token"])
        check(status == 202, "throw: %d %r" % (status, body))
        status, body = http("GET", "%s/v1/nodes/%s/events?after=0&timeout_ms=0" % (master, node["node"]),
                            token=node["token"])
        events = json.loads(body)["events"] if status == 200 else []
        check(status == 200 and [e["type"] for e in events] == ["sprite"], "poll: %d %r" % (status, body))
        status, body = http("GET", master + "/play")
        check(status == 200 and b"/web/play.js" in body, "the installed pages are not served: %d" % status)
        status, _ = http("GET", master + "/web/scalers.js")
        check(status == 200, "/web/scalers.js: %d" % status)
    finally:
        relay.send_signal(signal.SIGTERM)
        try:
            code = relay.wait(timeout=GUARD_S)
        except subprocess.TimeoutExpired:
            relay.kill()
            fail("the installed supervisor did not stop on SIGTERM")
    check(code == 0, "the installed supervisor exited with %d" % code)
    subprocess.run(["rm", "-rf", work], check=True)
    print("package smoke: %s installs, serves and stops" % debs[0])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
