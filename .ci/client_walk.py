"""A walk through the native API with a client generated from the served
/openapi.json by openapi-python-client (.ci/client-walk generates it as the
package `roster_client`): a tenant, a store, users and their roles, checks,
a device and the sign-ins. Every call goes through the generated code; each
answer's status and body are checked. Usage: client_walk.py BASE ADMIN_TOKEN
"""

import sys
from http import HTTPStatus

from roster_client import AuthenticatedClient, Client
from roster_client.api.accounts import create_account
from roster_client.api.auth import login, logout
from roster_client.api.check import check
from roster_client.api.devices import create_device, list_devices
from roster_client.api.pos import device_login, exchange_token, get_tenant_account
from roster_client.api.stores import create_store, get_store
from roster_client.api.tenants import create_tenant, get_tenant
from roster_client.api.users import create_user, get_user, list_users, update_user
from roster_client.models import (
    AccountCreate,
    AccountType,
    CheckItem,
    DeviceCreate,
    DeviceLogin,
    LoginRequest,
    Permission,
    Problem,
    StoreCreate,
    TenantCreate,
    TenantRole,
    UserCreate,
    UserUpdate,
)

BASE, ADMIN = sys.argv[1], sys.argv[2]
PASSWORD = "Walk-through-9xq-Zt4-staple"


def client(token):
    return AuthenticatedClient(base_url=BASE, token=token, raise_on_unexpected_status=True)


def ok(response, status=HTTPStatus.OK):
    assert response.status_code == status, (response.status_code, response.content)
    assert not isinstance(response.parsed, Problem), response.content
    return response.parsed


admin = client(ADMIN)

tenant = ok(create_tenant.sync_detailed(client=admin, body=TenantCreate(uid="walk", name="Walk")), HTTPStatus.CREATED)
assert tenant.uid == "walk"
assert ok(get_tenant.sync_detailed("walk", client=admin)).name == "Walk"

store = ok(create_store.sync_detailed("walk", client=admin, body=StoreCreate(code="main", name="Main", id="main")), HTTPStatus.CREATED)
assert ok(get_store.sync_detailed("walk", store.id, client=admin)).code == "main"

account = ok(
    create_account.sync_detailed(client=admin, body=AccountCreate(email="ana@example.com", password=PASSWORD, first_name="Ana")),
    HTTPStatus.CREATED,
)
cashier = ok(
    create_user.sync_detailed(
        "walk",
        client=admin,
        body=UserCreate(
            first_name="Ana",
            last_name="Lima",
            email="ana@example.com",
            user_code="1001",
            password=PASSWORD,
            tenant_role=TenantRole.ACCESS,
            store_ids=["main"],
            account_id=account.id,
        ),
    ),
    HTTPStatus.CREATED,
)
assert cashier.tenant_role == TenantRole.ACCESS and cashier.store_ids == ["main"]
assert ok(get_user.sync_detailed("walk", cashier.id, client=admin)).email == "ana@example.com"
listed = ok(list_users.sync_detailed("walk", client=admin, limit=10))
assert [u.id for u in listed.data] == [cashier.id]


def may(user, permission, store_id=None):
    item = CheckItem(user_id=user, permission=permission)
    if store_id is not None:
        item.store_id = store_id
    return ok(check.sync_detailed("walk", client=admin, body=item)).allowed


assert may(cashier.id, Permission.USE_POS, "main")
assert not may(cashier.id, Permission.MANAGE_USERS)

# A role change shows in the next check.
promoted = ok(update_user.sync_detailed("walk", cashier.id, client=admin, body=UserUpdate(tenant_role=TenantRole.BACKOFFICE)))
assert promoted.tenant_role == TenantRole.BACKOFFICE
assert may(cashier.id, Permission.VIEW_USERS)
ok(update_user.sync_detailed("walk", cashier.id, client=admin, body=UserUpdate(tenant_role=TenantRole.ACCESS)))
assert not may(cashier.id, Permission.VIEW_USERS)

device = ok(create_device.sync_detailed("walk", client=admin, body=DeviceCreate(name="Till 1", store_id="main")), HTTPStatus.CREATED)
assert [d.id for d in ok(list_devices.sync_detailed("walk", client=admin)).data] == [device.id]

# Signing in on the device gives the cashier's access token.
access = ok(device_login.sync_detailed(client=client(device.token), body=DeviceLogin(user_code="1001", password=PASSWORD)))
me = ok(get_tenant_account.sync_detailed("walk", client=client(access.access_token)))
assert me.tenant_user_uid == str(cashier.id) and me.tenant_role == TenantRole.ACCESS
wrong = device_login.sync_detailed(client=client(device.token), body=DeviceLogin(user_code="1001", password="not-the-password-at-all"))
assert wrong.status_code == HTTPStatus.UNAUTHORIZED and isinstance(wrong.parsed, Problem), wrong.content

# The global account signs in, and exchanges its auth token for the tenant.
auth = ok(login.sync_detailed(client=Client(base_url=BASE, raise_on_unexpected_status=True), body=LoginRequest(email="ana@example.com", password=PASSWORD)))
exchanged = ok(exchange_token.sync_detailed("walk", client=client(auth.auth_token)))
assert exchanged.tenant_user_uid == str(cashier.id) and exchanged.account_type == AccountType.REGULAR
ok(logout.sync_detailed(client=client(auth.auth_token)), HTTPStatus.NO_CONTENT)
after = exchange_token.sync_detailed("walk", client=client(auth.auth_token))
assert after.status_code == HTTPStatus.UNAUTHORIZED, after.content

print("client walk: the generated client went through tenant, store, users, roles, check, devices and sign-in")
