"""Common secret formats, one planted line each, for the report's redaction recall.

The families follow gitleaks' default rules and detect-secrets' plugins (cloud and VCS tokens,
chat/payment/API keys, private keys, JWTs, basic auth in URLs, keyword assignments, high-entropy
hex and base64) plus what ends up in a shell command on a developer's machine (``*_PASSWORD=``,
``PGPASSWORD=``, ``mysql -p…``, headers, IP addresses, internal host names, e-mails, home
paths). Every value is made up here; none is a real credential. Each line stays under the 120
characters ``diagnose.asked`` keeps of a server's text, so each is shown whole before redaction.

``CORPUS``: format -> (the planted text, the parts of it that must not reach a redacted report).
"""

from __future__ import annotations

# Built from pieces so that no scanner run on this repository mistakes the file for a leak.
_B64 = "wJalrXUtnFEMI" + "/K7MDENG/bPxRfiCYEXAMPLEKEY"
_HEX40 = "9f86d081884c7d659a2feaa0c55ad015" + "a3bf4f1b"
_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    + "eyJzdWIiOiJxYTEyMyIsIm5hbWUiOiJRYSJ9."
    + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

CORPUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws access key id": ("aws s3 ls --profile x AKIA" + "Z3QXV7PLMN4RTB2K", ("AKIAZ3QXV7PLMN4RTB2K",)),
    "aws secret access key": ("export AWS_SECRET_ACCESS_KEY=" + _B64, (_B64,)),
    "github classic token": (
        "git clone https://x@github.com/o/r ghp_" + "R8xK2mQ9vL4nT7pW3yZ6bC1dF5gH0jS2aB4e",
        ("ghp_R8xK2mQ9vL4nT7pW3yZ6bC1dF5gH0jS2aB4e",),
    ),
    "github fine-grained token": (
        "GH_TOKEN=github_pat_" + "11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdEF",
        ("github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdEF",),
    ),
    "gitlab token": ("glab auth login --token glpat-" + "x7Kq2LmN9pR4sT6vW8yZ", ("glpat-x7Kq2LmN9pR4sT6vW8yZ",)),
    "slack bot token": (
        "curl -d token=xoxb-" + "2301847562-4829173650-Qw3eR5tY7uI9oP1aS3dF5gH7",
        ("xoxb-2301847562-4829173650-Qw3eR5tY7uI9oP1aS3dF5gH7",),
    ),
    "slack webhook": (
        "curl https://hooks.slack.com/services/" + "T01AB2CD3EF/B04GH5IJ6KL/q9W8e7R6t5Y4u3I2o1P0aSdF",
        ("T01AB2CD3EF/B04GH5IJ6KL/q9W8e7R6t5Y4u3I2o1P0aSdF", "q9W8e7R6t5Y4u3I2o1P0aSdF"),
    ),
    "stripe secret key": (
        "stripe login --api-key sk_live_" + "51HqLyQ2eZvKYlo2C8n4XbT7",
        ("sk_live_51HqLyQ2eZvKYlo2C8n4XbT7",),
    ),
    "google api key": (
        "curl 'https://maps.googleapis.com/x?key=AIza" + "SyD4x8Kq2LmN9pR4sT6vW8yZ0aB3cE5fG7h'",
        ("AIzaSyD4x8Kq2LmN9pR4sT6vW8yZ0aB3cE5fG7h",),
    ),
    "openai key": (
        "OPENAI_API_KEY=sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA",
        ("sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA",),
    ),
    "anthropic key": (
        "export ANTHROPIC_API_KEY=sk-ant-api03-" + "q1W2e3R4t5Y6u7I8o9P0",
        ("sk-ant-api03-q1W2e3R4t5Y6u7I8o9P0",),
    ),
    "sendgrid key": (
        "SG." + "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
        ("ngeVfQFYQlKU0ufo8x5d1A", "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"),
    ),
    "npm token": (
        "echo //registry.npmjs.org/:_authToken=npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        ("npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",),
    ),
    "private key block": (
        "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2g",
        ("BEGIN OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    ),
    "jwt": ("curl -H 'Cookie: session=" + _JWT[:90] + "'", (_JWT[:90], _JWT.split(".")[1][:30])),
    "authorization bearer": (
        "curl -H 'Authorization: Bearer " + "d7Hk29Lq0Zm3Xp8Vt6Rc4Ws1'",
        ("d7Hk29Lq0Zm3Xp8Vt6Rc4Ws1",),
    ),
    "authorization basic": ("curl -H 'Authorization: Basic " + "YWRtaW46aHVudGVyMg=='", ("YWRtaW46aHVudGVyMg",)),
    "x-api-key header": ("curl -H 'x-api-key: " + "k3yV4lu3Qw9Er7Ty'", ("k3yV4lu3Qw9Er7Ty",)),
    "url with password": ("psql postgres://app:" + "Pg5ecretPass@db:5432/app", ("Pg5ecretPass",)),
    "password assignment": ("password=" + "hunter2hunter2", ("hunter2hunter2",)),
    "secret assignment": ("SECRET_KEY='" + "dj4ng0s3cr3tv4lu3'", ("dj4ng0s3cr3tv4lu3",)),
    "token assignment": ("token: " + "tk_9QmWn2Rb7Xc", ("tk_9QmWn2Rb7Xc",)),
    "env DB_PASSWORD": ("DB_PASSWORD=" + "Tr0ub4dor3 ./migrate.sh", ("Tr0ub4dor3",)),
    "env PGPASSWORD": ("PGPASSWORD=" + "s3cr3tPg psql -h db -U app", ("s3cr3tPg",)),
    "mysql -p": ("mysql -u root -p" + "MyS3cretPw -e 'show tables'", ("MyS3cretPw",)),
    "--password flag": ("docker login --username bob --password " + "D0ck3rPw!", ("D0ck3rPw",)),
    "40-hex token": ("curl -H 'X-Auth: " + _HEX40 + "'", (_HEX40,)),
    "long lowercase token": (
        "export CI_JOB_TOKEN=" + "k8s7d6f5g4h3j2k1l0z9x8c7v6b5n4m3",
        ("k8s7d6f5g4h3j2k1l0z9x8c7v6b5n4m3",),
    ),
    "ssh to an ipv4": ("ssh -i key root@" + "10.20.30.40", ("10.20.30.40",)),
    "ipv6": ("ping6 " + "fd12:3456:789a:1::42", ("fd12:3456:789a:1::42",)),
    "internal hostname": ("curl http://" + "grafana.ops.acme.internal:3000/d/x", ("grafana.ops.acme.internal", "acme")),
    "corp hostname": ("scp build.tgz deploy@" + "ci-runner-07.corp.local:/srv", ("ci-runner-07", "corp.local")),
    "e-mail": ("git config user.email " + "jane.doe@acme-widgets.com", ("jane.doe", "acme-widgets")),
    "home path": ("cat /home/" + "jdoe/.aws/credentials", ("/home/jdoe", "jdoe")),
    "macos home path": ("ls /Users/" + "mmustermann/Projects", ("mmustermann",)),
}


def survivors(text: str) -> dict[str, list[str]]:
    """Format -> the planted parts still in ``text`` (empty: nothing of the corpus survived)."""
    found = {name: [bit for bit in bits if bit in text] for name, (_, bits) in CORPUS.items()}
    return {name: bits for name, bits in found.items() if bits}
