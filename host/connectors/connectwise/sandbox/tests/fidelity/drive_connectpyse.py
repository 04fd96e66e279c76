"""Drives the unmodified PyPI client `connectpyse` against the ConnectWise sandbox.

Run by tests/connectpyse.rs with CW_URL, CW_COMPANY, CW_PUBLIC, CW_PRIVATE and CW_CLIENT_ID
set. Every check raises on failure; the last line printed is "all checks passed".
"""
import base64
import os

from connectpyse.restapi import ApiError
from connectpyse.service import tickets_api
from connectpyse.system import member, members_api

URL = os.environ["CW_URL"]
token = base64.b64encode(
    "{}+{}:{}".format(os.environ["CW_COMPANY"], os.environ["CW_PUBLIC"], os.environ["CW_PRIVATE"]).encode()
).decode()
AUTH = {"Authorization": "Basic " + token, "clientId": os.environ["CW_CLIENT_ID"]}


def members():
    return members_api.MembersAPI(url=URL, auth=AUTH)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


api = members()
api.conditions = 'inactiveFlag = false and identifier like "j%"'
check([m.identifier for m in api.get_members()] == ["jdoe"], "conditions filter members")

check(members().get_members_count() == 5, "count of all members")
api = members()
api.conditions = "inactiveFlag = true"
check(api.get_members_count() == 1, "count with conditions")

check(members().get_member_by_id(2).identifier == "jdoe", "get by id")

api = members()
api.pageSize = 2
api.page = 2
api.orderBy = "id desc"
check([m.id for m in api.get_members()] == [3, 2], "page, pageSize and orderBy")

new = member.Member({
    "identifier": "pyclient",
    "firstName": "Py",
    "lastName": "Client",
    "licenseClass": "F",
    "officeEmail": "py@msp.example",
    "securityRole": {"id": 2},
    "defaultLocation": {"id": 1},
    "defaultDepartment": {"id": 1},
})
created = members().create_member(new)
check(created.identifier == "pyclient" and created.securityRole["name"] == "Technician", "create (201)")

try:
    members().create_member(new)
    raise AssertionError("a duplicate identifier was accepted")
except ApiError as err:
    check("400" in str(err) and "ObjectExists" in str(err), "duplicate identifier refused with ObjectExists")

updated = members().update_member(created.id, "title", "Lead")
check(updated.title == "Lead", "patch one key")
updated = members().update_member_multiple_keys(created.id, {"inactiveFlag": True, "lastName": "Gone"})
check(updated.inactiveFlag is True and updated.lastName == "Gone", "patch several keys")

try:
    members().delete_member_by_id(created.id)
    raise AssertionError("a member was deleted")
except ApiError as err:
    check("405" in str(err), "members cannot be deleted (405)")

tickets = tickets_api.TicketsAPI(url=URL, auth=AUTH)
tickets.conditions = 'owner/identifier = "jdoe" and closedFlag = false'
open_ids = [t.id for t in tickets.get_tickets()]
check(open_ids == [1, 2, 3], "open tickets of a member by owner/identifier")
moved = tickets_api.TicketsAPI(url=URL, auth=AUTH).update_ticket(1, "owner", {"id": 3})
check(moved.owner["identifier"] == "asmith", "reassign a ticket")

bad = members_api.MembersAPI(url=URL, auth={"Authorization": AUTH["Authorization"]})
try:
    list(bad.get_members())
    raise AssertionError("a request without clientId was accepted")
except ApiError as err:
    check("401" in str(err), "clientId is required")

print("all checks passed")
