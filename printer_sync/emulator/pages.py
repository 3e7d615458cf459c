"""The emulator's pages: the structure Epson's Web Config has, not its styling.

Scripts written for real printers (see ``DESIGN.md``) rely on that structure, so it is
modelled as they saw it on the ET-16600 / DS-730N: every ``<input>`` carries a ``value``
attribute (file inputs and the submit button a ``name`` and a ``value`` too), the chain
import form has the ``key`` and ``cert0``..``cert2`` inputs, and the SSL/TLS page's form is
``id="input_form"`` with the certificate-type choice selected in it.
"""

from __future__ import annotations

from html import escape

LOGIN_ACTION = "/PRESENTATION/ADVANCED/PASSWORD/SET"


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def message(title: str, text: str) -> str:
    return page(title, f"<p class='message'>{escape(text)}</p>")


def login(note: str = "") -> str:
    return page(
        "Administrator Login",
        (f"<p class='error'>{escape(note)}</p>" if note else "")
        + f"<form method='post' action='{LOGIN_ACTION}'>"
        "<input type='hidden' name='access' value='https'>"
        "<input type='hidden' name='INPUTT_ACCSESSMETHOD' value='0'>"
        "<input type='hidden' name='INPUTT_DUMMY' value=''>"
        "<label>User Name <input type='text' name='INPUTT_USERNAME' value=''></label>"
        "<label>Current password <input type='password' name='INPUTT_PASSWORD' value=''>"
        "</label>" + _submit() + "</form>",
    )


def _submit() -> str:
    return "<input type='submit' name='btn_ok' value='OK'>"


def _file(name: str, label: str) -> str:
    return f"<label>{escape(label)} <input type='file' name='{name}' value=''></label>"


def _token(token: str | None) -> str:
    if token is None:  # a firmware that changed its form
        return ""
    return f"<input type='hidden' name='INPUTT_SETUPTOKEN' value='{escape(token)}'>"


def chain_form(token: str | None) -> str:
    return page(
        "CA-signed Certificate - Import",
        "<form method='post' enctype='multipart/form-data' "
        "action='/PRESENTATIONEX/CERT/IMPORT_CHAIN'>"
        + _token(token)
        + "<select name='format'><option value='pem_der' selected>Certificate (PEM/DER)</option>"
        "<option value='pkcs12'>Certificate with Private Key (PKCS#12)</option></select>"
        + _file("key", "Private Key")
        + _file("cert0", "Certificate")
        + _file("cert1", "CA Certificate 1")
        + _file("cert2", "CA Certificate 2")
        + _submit()
        + "</form>",
    )


def status(token: str | None, *, uses_ca_signed: bool, has_ca_signed: bool, served: str) -> str:
    def option(value: str, label: str, selected: bool, enabled: bool) -> str:
        flags = (" selected" if selected else "") + ("" if enabled else " disabled")
        return f"<option value='{value}'{flags}>{label}</option>"

    return page(
        "SSL/TLS - Basic Settings",
        f"<p>Server Certificate: <span class='served'>{escape(served)}</span></p>"
        "<form id='input_form' method='post' action='/PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/SET'>"
        + _token(token)
        + "<select name='SEL_SSLTLSUSECERT'>"
        + option("SELF-SIGNED_CERT", "Self-signed Certificate", not uses_ca_signed, True)
        + option("CA-SIGNED_CERT", "CA-signed Certificate", uses_ca_signed, has_ca_signed)
        + "</select>"
        + _submit()
        + "</form>",
    )


def ca_list(entries: list[tuple[str, str]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(subject)}</td><td class='fingerprint'>{fp}</td></tr>"
        for subject, fp in entries
    )
    return page(
        "CA Certificate",
        f"<table><tr><th>Subject</th><th>SHA-256</th></tr>{rows}</table>"
        "<a href='/PRESENTATION/ADVANCED/NWS_CERT_CA/IMPORT'>Import</a>",
    )


def ca_form(token: str | None) -> str:
    return page(
        "CA Certificate - Import",
        "<form method='post' enctype='multipart/form-data' "
        "action='/PRESENTATIONEX/CERT/IMPORT_CACERT'>"
        + _token(token)
        + "<select name='format'><option value='pem_der' selected>PEM/DER</option></select>"
        + _file("cert", "CA Certificate")
        + _submit()
        + "</form>",
    )
