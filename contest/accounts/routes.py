from __future__ import annotations

from urllib.parse import urlencode

import qrcode  # type: ignore[import-untyped, unused-ignore]
import qrcode.image.svg  # type: ignore[import-untyped, unused-ignore]
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import client_ip, current_user, end_session, public, requires, start_session
from contest.accounts import services, slips
from contest.accounts.interfaces import (
    MIN_PASSWORD_LENGTH,
    InvalidPasswordError,
    LoginFailedError,
    LoginThrottledError,
)
from contest.errors import InvalidError, NotFoundError
from contest.forms import read_form
from contest.i18n import gettext
from contest.models import Contest, JudgeSlip, Role, User
from contest.pagination import page_request
from contest.templating import render
from contest.urls import form_page, same_site_path

# Every signed-in account, whatever its role (an organiser of some units too), may use these pages.
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


@requires(*ALL_ROLES, for_units=True)
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


@requires(*ALL_ROLES, for_units=True)
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


@requires(*ALL_ROLES, for_units=True)
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


@requires(*ALL_ROLES, for_units=True)
async def revoke_token(request: Request) -> Response:
    await read_form(request)
    async with request.state.sessionmaker.begin() as session:
        # Someone else's token answers as one that does not exist (contest.rules).
        await services.revoke_api_token(
            session, user=current_user(request), token_id=request.path_params["token_id"]
        )
    return RedirectResponse(request.url_for("account"), status_code=303)


@requires(*ALL_ROLES, for_units=True)
async def api_me(request: Request) -> Response:
    """The signed-in user, or the owner of the API token.
    ---
    summary: Who am I
    operationId: readMe
    responses:
      "200":
        description: The user.
        json:
          type: object
          required: [id, email, name, role]
          properties:
            id: {type: integer}
            email: {type: string}
            name: {type: string}
            role: {type: string, enum: [admin, coordinator, judge]}
      "401":
        description: Not signed in, or the token is not valid.
        json: {$ref: "#/components/schemas/Error"}
    """
    user = current_user(request)
    return JSONResponse(
        {"id": user.id, "email": user.email, "name": user.name, "role": user.role.value}
    )


# --- judges without an account: sign-in slips --------------------------------------------


@public
async def slip_sign_in(request: Request) -> Response:
    """A judge signs in with the code of their slip (the slip's link fills it in)."""
    context = {"code": request.query_params.get("code", "")[:40], "message": None}
    if request.method == "GET":
        return render(request, "account/slip.html", context)
    form = await read_form(request)
    context["code"] = form.get("code", "")[:40]
    async with request.state.sessionmaker() as session:
        try:
            judge, slip = await slips.sign_in_with_slip(
                session,
                secret_key=request.state.settings.secret_key,
                code=form.get("code", ""),
                client_ip=client_ip(request),
            )
        except (LoginThrottledError, slips.SlipRefusedError) as exc:
            # The failed attempt is kept: it is what throttling counts.
            await session.commit()
            context["message"] = exc.message
            return render(request, "account/slip.html", context, status_code=exc.status_code)
        await session.commit()
    start_session(request, judge, slip_id=slip.id)
    return RedirectResponse(home_for(judge), status_code=303)


@requires(Role.ADMIN)
async def slips_page(request: Request) -> Response:
    """A contest's judges with their live slips: add a judge by name, give a judge a slip to
    print (its code is shown once, on the printable page), revoke one."""
    user = current_user(request)
    contest_id = request.path_params["contest_id"]
    page = page_request(request.query_params)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await read_form(request)
        async with request.state.sessionmaker() as session:
            contest = await rules.ensure_contest_for_organiser(
                session, user=user, contest_id=contest_id
            )
            try:
                if form.get("revoke"):
                    await slips.revoke_slip(
                        session, contest=contest, slip_id=_form_id(form.get("revoke")), actor=user
                    )
                    await session.commit()
                    return RedirectResponse(
                        request.url_for("admin_slips", contest_id=contest.id), status_code=303
                    )
                if form.get("judge"):
                    judge = await slips.ensure_contest_judge(
                        session, contest=contest, judge_id=_form_id(form.get("judge"))
                    )
                else:
                    judge = await slips.add_judge_without_account(
                        session, contest=contest, name=form.get("name", ""), actor=user
                    )
                slip, code = await slips.issue_slip(
                    session,
                    secret_key=request.state.settings.secret_key,
                    judge=judge,
                    actor=user,
                )
                await session.commit()
            except InvalidError as exc:
                await session.rollback()
                errors = exc.fields or {"name": exc.message}
            else:
                return _printable_slip(request, contest, judge, slip, code)
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=user, contest_id=contest_id
        )
        found = await slips.contest_judges_page(session, contest=contest, page=page)
    return render(
        request,
        "admin/slips.html",
        {
            "contest": contest,
            "judges": found,
            "errors": errors,
            # After a judge's work was handed over (judging's hand-over action).
            **_handed_over(request),
        },
        status_code=422 if errors else 200,
    )


def _handed_over(request: Request) -> dict[str, int | None]:
    """What the hand-over of a judge's work reported, back on this page (judging's action)."""
    moved, kept = request.query_params.get("moved", ""), request.query_params.get("kept", "")
    if not (moved.isascii() and moved.isdigit() and kept.isascii() and kept.isdigit()):
        return {"moved": None, "kept": None}
    return {"moved": int(moved), "kept": int(kept)}


def _form_id(raw: str | None) -> int:
    value = (raw or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise NotFoundError()
    return int(value)


def _printable_slip(
    request: Request, contest: Contest, judge: User, slip: JudgeSlip, code: str
) -> Response:
    link = f"{request.url_for('judge_slip')}?{urlencode({'code': slips.show_code(code)})}"
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(link)
    svg = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
    response = render(
        request,
        "admin/slip.html",
        {
            "contest": contest,
            "judge": judge,
            "slip": slip,
            "code": slips.show_code(code),
            "link": link,
            # Made here from our own link: markup of ours, not of a visitor's.
            "qr_svg": Markup(svg),  # noqa: S704
        },
    )
    # The code is shown this once: no copy of the page is kept anywhere.
    response.headers["Cache-Control"] = "no-store"
    return response


routes: list[BaseRoute] = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    form_page("/invite/{token:str}", accept_invitation, "invite"),
    Route("/account", account_home, methods=["GET"], name="account"),
    Route("/account/tokens", create_token, methods=["POST"]),
    Route("/account/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"]),
    form_page("/judge/slip", slip_sign_in, "judge_slip"),
    form_page("/admin/contests/{contest_id:int}/slips", slips_page, "admin_slips"),
]

api_routes: list[BaseRoute] = [Route("/me", api_me, methods=["GET"])]
