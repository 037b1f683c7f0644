from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels
from contest.access import client_ip, current_user, end_session, public, requires, start_session
from contest.accounts import services
from contest.accounts.interfaces import (
    MIN_PASSWORD_LENGTH,
    InvalidPasswordError,
    LoginFailedError,
    LoginThrottledError,
)
from contest.forms import read_form
from contest.i18n import gettext
from contest.models import Role, User
from contest.templating import render
from contest.urls import same_site_path

# Every signed-in account, whatever its role, may use these pages.
ALL_ROLES = tuple(Role)
NAME_MAX = 100


# Each role lands where its work is; the account page stays one click away.
HOMES = {Role.ADMIN: "/admin", Role.JUDGE: "/judge", Role.COORDINATOR: "/coordinator"}


def home_for(user: User) -> str:
    return HOMES.get(user.role, "/account")


@public
async def login(request: Request) -> Response:
    next_path = same_site_path(request.query_params.get("next"), default="")
    context = {"next": next_path, "email": "", "message": None}
    if request.method == "GET":
        return render(request, "account/login.html", context)

    form = await read_form(request)
    email = form.get("email", "")
    context.update(email=email, next=same_site_path(form.get("next"), default=""))
    async with request.state.sessionmaker() as session:
        try:
            user = await services.sign_in(
                session,
                email=email,
                password=form.get("password", ""),
                client_ip=client_ip(request),
            )
        except (LoginThrottledError, LoginFailedError) as exc:
            # A failed attempt is kept, refusal or not: it is what throttling counts.
            await session.commit()
            context["message"] = exc.message
            return render(request, "account/login.html", context, status_code=exc.status_code)
        await session.commit()
    start_session(request, user)
    return RedirectResponse(context["next"] or home_for(user), status_code=303)


@requires(*ALL_ROLES)
async def logout(request: Request) -> Response:
    await read_form(request)
    end_session(request)
    return RedirectResponse("/", status_code=303)


@public
async def accept_invitation(request: Request) -> Response:
    token = request.path_params["token"]
    settings = request.state.settings
    async with request.state.sessionmaker.begin() as session:
        # An invalid link (InvalidInvitationError) is answered by the one error handler.
        _invitation, user = await services.find_invitation(
            session, secret_key=settings.secret_key, token=token
        )
        context = {"user": user, "errors": {}, "message": None, "min_length": MIN_PASSWORD_LENGTH}
        if request.method == "GET":
            return render(request, "account/invite.html", context)

        form = await read_form(request)
        password = form.get("password", "")
        if password != form.get("confirm", ""):
            context["errors"] = {"confirm": gettext("The two passwords are not the same.")}
            return render(request, "account/invite.html", context, status_code=422)
        try:
            user = await services.accept_invitation(
                session, secret_key=settings.secret_key, token=token, password=password
            )
        except InvalidPasswordError as exc:
            context["errors"] = {"password": str(exc)}
            return render(request, "account/invite.html", context, status_code=422)
    start_session(request, user)
    # A new account is first shown itself (the name and email it was made for, its API
    # tokens); from then on each sign-in lands where the role's work is.
    return RedirectResponse(
        home_for(user) if user.role == Role.ADMIN else "/account", status_code=303
    )


@requires(*ALL_ROLES)
async def account_home(request: Request) -> Response:
    return await _account_page(request)


async def _account_page(
    request: Request, *, new_token: str | None = None, errors: dict[str, str] | None = None
) -> Response:
    user = current_user(request)
    async with request.state.sessionmaker() as session:
        tokens = await services.list_api_tokens(session, user=user)
    return render(
        request,
        "account/home.html",
        {
            "user": user,
            "role_label": labels.ROLES[user.role],
            "tokens": tokens,
            "new_token": new_token,
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@requires(*ALL_ROLES)
async def create_token(request: Request) -> Response:
    form = await read_form(request)
    name = form.get("name", "")
    if not name or len(name) > NAME_MAX:
        return await _account_page(
            request, errors={"name": gettext("Give the token a name of up to 100 characters.")}
        )
    async with request.state.sessionmaker.begin() as session:
        user = await session.get(User, current_user(request).id)
        assert user is not None
        _token, plain = await services.create_api_token(session, user=user, name=name)
    return await _account_page(request, new_token=plain)


@requires(*ALL_ROLES)
async def revoke_token(request: Request) -> Response:
    await read_form(request)
    async with request.state.sessionmaker.begin() as session:
        # Someone else's token answers as one that does not exist (contest.rules).
        await services.revoke_api_token(
            session, user=current_user(request), token_id=request.path_params["token_id"]
        )
    return RedirectResponse(request.url_for("account"), status_code=303)


@requires(*ALL_ROLES)
async def api_me(request: Request) -> Response:
    """The signed-in user, or the owner of the API token.
    ---
    summary: Who am I
    operationId: readMe
    responses:
      "200":
        description: The user.
        content:
          application/json:
            schema:
              type: object
              required: [id, email, name, role]
              properties:
                id: {type: integer}
                email: {type: string}
                name: {type: string}
                role: {type: string, enum: [admin, coordinator, judge]}
      "401":
        description: Not signed in, or the token is not valid.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
    """
    user = current_user(request)
    return JSONResponse(
        {"id": user.id, "email": user.email, "name": user.name, "role": user.role.value}
    )


routes: list[BaseRoute] = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/invite/{token:str}", accept_invitation, methods=["GET", "POST"], name="invite"),
    Route("/account", account_home, methods=["GET"], name="account"),
    Route("/account/tokens", create_token, methods=["POST"]),
    Route("/account/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"]),
]

api_routes: list[BaseRoute] = [Route("/me", api_me, methods=["GET"])]
