"""new_ca / issue_cert: the certificate profile, and that the results really chain."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kprov.pki import issue_cert, new_ca, read_pair, write_kubeconfig, write_pair
from kprov.pki.keypair import KeyPair
from kprov.pki.store import cert_sans


def test_ca_is_a_ca_and_self_signed() -> None:
    ca = new_ca("test-ca")
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca.cert.verify_directly_issued_by(ca.cert)
    assert ca.common_name == "test-ca"


def test_leaf_carries_subject_sans_and_usages() -> None:
    ca = new_ca("test-ca")
    leaf = issue_cert(ca, "system:node:h1", ["system:nodes"], ["h1", "localhost"], ["10.0.0.1", "127.0.0.1"],
                      server=True, client=True)
    leaf.cert.verify_directly_issued_by(ca.cert)
    assert leaf.common_name == "system:node:h1"
    assert leaf.organizations == ["system:nodes"]
    assert cert_sans(leaf.cert) == (["h1", "localhost"], ["10.0.0.1", "127.0.0.1"])
    eku = set(leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not leaf.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_leaf_needs_a_usage() -> None:
    with pytest.raises(ValueError, match="server=True"):
        issue_cert(new_ca("ca"), "x")


def test_pem_round_trip_and_key_mode(tmp_path) -> None:
    pair = issue_cert(new_ca("ca"), "x", client=True)
    write_pair(tmp_path, "sub/x", pair)
    assert (tmp_path / "sub/x.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "sub/x.crt").stat().st_mode & 0o777 == 0o644
    again = read_pair(tmp_path, "sub/x")
    assert again.cert == pair.cert and again.key_pem == pair.key_pem
    assert KeyPair.from_pem(pair.cert_pem, pair.key_pem).cert == pair.cert


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str) -> ssl.SSLObject:
    """A TLS handshake over memory BIOs (no sockets); returns the server side."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return server
    raise AssertionError("handshake did not finish")


def test_mutual_tls_handshake_with_openssl(tmp_path) -> None:
    """OpenSSL (Python's ssl) verifies the server by SAN and the client cert by the CA."""
    ca = new_ca("ca")
    server = issue_cert(ca, "srv", dns_names=["localhost"], ip_addresses=["127.0.0.1"], server=True)
    client = issue_cert(ca, "kubernetes-admin", ["system:masters"], client=True)
    for name, pair in (("ca", ca), ("srv", server), ("cli", client)):
        write_pair(tmp_path, name, pair)
    srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv_ctx.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    srv_ctx.load_verify_locations(tmp_path / "ca.crt")
    srv_ctx.verify_mode = ssl.CERT_REQUIRED
    cli_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    cli_ctx.load_cert_chain(tmp_path / "cli.crt", tmp_path / "cli.key")
    peer = _handshake(srv_ctx, cli_ctx, "localhost").getpeercert()
    assert ((("commonName", "kubernetes-admin"),) in peer["subject"])
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(srv_ctx, cli_ctx, "not-in-the-sans")
    server_only = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    server_only.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    with pytest.raises(ssl.SSLError):  # serverAuth-only cert is refused as a client cert
        _handshake(srv_ctx, server_only, "localhost")


def test_kubeconfig_embeds_data_and_is_private(tmp_path) -> None:
    import base64

    import yaml

    ca = new_ca("ca")
    leaf = issue_cert(ca, "kubernetes-admin", ["system:masters"], client=True)
    path = tmp_path / "admin.conf"
    server = "https://10.0.0.1:6443"
    write_kubeconfig(path, server, ca.cert_pem, leaf.cert_pem, leaf.key_pem, "kubernetes-admin")
    assert path.stat().st_mode & 0o777 == 0o600
    doc = yaml.safe_load(path.read_text())
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    assert cluster["server"] == "https://10.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.cert_pem
    assert base64.b64decode(user["client-certificate-data"]) == leaf.cert_pem
    assert base64.b64decode(user["client-key-data"]) == leaf.key_pem
    assert doc["current-context"] == doc["contexts"][0]["name"]
