"""The shape of OCES3 certificates, as data: names, extensions and signature parameters.

Everything here was read off the real OCES3 test chain (`shared/reference/security/oces3/`,
notes/security-transport.md §3) and is used only to make a *test* PKI that looks like it:

- root CA: RSA-4096, self-signed with RSASSA-PSS/SHA-512, basicConstraints CA (critical),
  keyUsage keyCertSign + cRLSign (critical), no digitalSignature;
- issuing CA: RSA-3072, signed by the root with RSASSA-PSS/SHA-512, basicConstraints CA with
  pathLen 0, keyUsage keyCertSign + cRLSign;
- organisation ("system") certificate: RSA-3072, signed by the issuing CA with RSASSA-PSS/SHA-256
  (salt 32), basicConstraints CA:FALSE, keyUsage digitalSignature + nonRepudiation +
  keyEncipherment (critical), no EKU, validity three years, subject
  `CN, serialNumber=UI:DK-O:G:<uuid>, O, organizationIdentifier=NTRDK-<CVR>, C=DK`.

The names say "labgw Test" so that no test certificate can be taken for Den Danske Stat's, and
the real OCES policy OIDs and qcStatements are left out on purpose.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_KEY_BITS = 4096  # OCES3 rod-CA
CA_KEY_BITS = 3072  # OCES3 udstedende-CA 1
ORGANISATION_KEY_BITS = 3072  # OCES3 organisation / system certificates
ORGANISATION_VALIDITY = timedelta(days=3 * 365)  # "validity 3 years"
CRL_URL = "http://crl.labgw.test/issuing-1.crl"  # .test is reserved (RFC 2606)

# Test organisation identities: (name in the PKI, organisation, fake CVR). The CVRs are made up
# and start with 99 so that they do not pass for real companies.
ORGANISATIONS: dict[str, tuple[str, str]] = {
    "practice-platform": ("labgw Test Praksisplatform", "99000001"),
    "lsp": ("labgw Test Laboratoriesvarportalen", "99000002"),
    "miba": ("labgw Test MiBa", "99000003"),
}
UUID_NAMESPACE = uuid.UUID("6f1b4a52-5a8e-4c56-9a55-2f1f5c0e6d11")


@dataclass(frozen=True, slots=True)
class SignatureProfile:
    """How a CA signs: hash and RSASSA-PSS padding (salt length = digest length, as OCES3)."""

    hash_algorithm: hashes.SHA256 | hashes.SHA512

    @property
    def padding(self) -> padding.PSS:
        return padding.PSS(
            mgf=padding.MGF1(self.hash_algorithm), salt_length=self.hash_algorithm.digest_size
        )


ROOT_SIGNATURE = SignatureProfile(hashes.SHA512())  # root signs itself and the issuing CA
ISSUING_SIGNATURE = SignatureProfile(hashes.SHA256())  # issuing CA signs leaves and the CRL


def ca_name(common_name: str) -> x509.Name:
    """A CA subject shaped like `CN=Den Danske Stat OCES rod-CA, OU=Test - cti, O=…, C=DK`."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Test - labgw"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "labgw Test"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DK"),
        ]
    )


def organisation_name(system: str, organisation: str, cvr: str) -> x509.Name:
    """An OCES3 organisation/system subject: CN, serialNumber UI:DK-O:G:uuid, O, NTRDK-CVR, C."""
    system_uuid = uuid.uuid5(UUID_NAMESPACE, system)
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, system),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"UI:DK-O:G:{system_uuid}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRDK-{cvr}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DK"),
        ]
    )


def key_usage(
    *,
    digital_signature: bool = False,
    non_repudiation: bool = False,
    key_encipherment: bool = False,
    cert_sign: bool = False,
) -> x509.KeyUsage:
    """A keyUsage value; CAs get keyCertSign + cRLSign, never digitalSignature."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


CA_KEY_USAGE = key_usage(cert_sign=True)
ORGANISATION_KEY_USAGE = key_usage(
    digital_signature=True, non_repudiation=True, key_encipherment=True
)
EC_ORGANISATION_KEY_USAGE = key_usage(digital_signature=True, non_repudiation=True)
WRONG_KEY_USAGE = key_usage(key_encipherment=True)
TLS_KEY_USAGE = key_usage(digital_signature=True)
TLS_NAMES = ("localhost", "127.0.0.1", "::1")  # loopback only: the test PKI never leaves the host


def tls_extensions() -> list[tuple[x509.ExtensionType, bool]]:
    """subjectAltName for loopback and extendedKeyUsage serverAuth + clientAuth (one
    certificate serves a peer both as a TLS server and as an mTLS client)."""
    names: list[x509.GeneralName] = [x509.DNSName(TLS_NAMES[0])]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in TLS_NAMES[1:]]
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return [(x509.SubjectAlternativeName(names), False), (x509.ExtendedKeyUsage(usage), False)]
