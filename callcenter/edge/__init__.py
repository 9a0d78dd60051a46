"""The SIP edge: Kamailio's configuration, the SIP credentials, and the ACD's HTTP face for it.

- `kamailio`: the configuration generated from the settings, and `hotline sip`.
- `credentials`: who may speak SIP to the edge (our user agents' digest passwords).
- `http`: plain-text answers Kamailio's routing script asks of the ACD (`/acd/...`).
"""
