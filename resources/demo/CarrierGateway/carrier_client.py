"""Builds booking requests for the carrier's SOAP service and reads its replies."""

from xml.etree import ElementTree

NAMESPACE = "urn:carrier:booking:1"


def booking_request(account, parcel):
    root = ElementTree.Element(f"{{{NAMESPACE}}}BookParcel")
    for tag, value in (("Account", account), ("Weight", parcel["weight_kg"]),
                       ("PostalCode", parcel["postal_code"]), ("Country", parcel["country"])):
        ElementTree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = str(value)
    return ElementTree.tostring(root, encoding="unicode")


def tracking_number(reply_xml):
    node = ElementTree.fromstring(reply_xml).find(f".//{{{NAMESPACE}}}TrackingNumber")
    if node is None or not node.text:
        raise ValueError("the carrier reply has no tracking number")
    return node.text.strip()
