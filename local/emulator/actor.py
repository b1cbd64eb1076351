"""``PortalEmulator``: what tests and the demo drive. It starts the server, adds portals, and acts as
the portal's users: install, update and uninstall the app, send an SMS, open the connector's settings, answer
as an Open Lines operator, delete a line or a connector's status. Each helper changes the state under
the lock, then POSTs what events.py builds, outside it."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import requests

from local.emulator import apppage, events, server
from local.emulator.endpoint import PortalEndpoint
from local.emulator.state import EmulatedChat, EmulatedPortal, EmulatorState, OperatorMessage
from local.httpserver import LoopbackServer


class PortalEmulator(EmulatorState):
    _server: LoopbackServer | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._endpoints: dict[str, PortalEndpoint] = {}  # portal name -> its own endpoint (own_endpoint)

    def start(self) -> PortalEmulator:
        self._server = server.listen(self)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()
        for own in self._endpoints.values():
            own.close()

    # -- a portal that refuses connections ---------------------------------------------------------
    def own_endpoint(self, portal: EmulatedPortal) -> EmulatedPortal:
        """Serve this portal's REST API on a socket of its own (before install: the app keeps the
        ``client_endpoint`` it learns then), so that it can refuse connections."""
        own = self._endpoints.setdefault(portal.name, PortalEndpoint(self))
        with self.lock:
            portal.client_endpoint = f"{own.open()}/{portal.name}/rest/"
        return portal

    def refuse_connections(self, portal: EmulatedPortal) -> None:
        """The portal's endpoint stops answering: connections refused, open ones reset."""
        self._endpoints[portal.name].close()

    def accept_connections(self, portal: EmulatedPortal) -> None:
        """The portal's endpoint listens again, at the same address."""
        self._endpoints[portal.name].open()

    def slow_down(self, portal: EmulatedPortal, seconds: float) -> None:
        """The portal answers each REST call ``seconds`` late (0: at once again); other portals do not wait."""
        with self.lock:
            portal.delay = seconds

    def take_down(self, portal: EmulatedPortal, seconds: float, refuse: bool = False) -> threading.Timer:
        """The portal is down for ``seconds``: it refuses connections (``refuse``; it needs
        ``own_endpoint`` before install) or answers every REST call 503; then it is back by itself."""
        if refuse:
            self.refuse_connections(portal)
        else:
            with self.lock:
                portal.down = True

        def back() -> None:
            if refuse:
                self.accept_connections(portal)
            else:
                with self.lock:
                    portal.down = False

        timer = threading.Timer(seconds, back)
        timer.daemon = True
        timer.start()
        return timer

    def handle(self, verb: str, raw_path: str, content_type: str, body: str) -> tuple[int, dict[str, Any]]:
        """One request, as the server answers it: (status, JSON answer)."""
        return server.handle(self, verb, raw_path, content_type, body)

    # -- the portal calling the app --------------------------------------------------------------
    def install(self, portal: EmulatedPortal, install_url: str, via: str = "page") -> requests.Response:
        """Open the app's install page (POST, as the portal's iframe does) or send ONAPPINSTALL."""
        with self.lock:
            access, refresh = portal.issue_tokens()
            portal.installed = True
            portal.app_url = install_url.replace("/bitrix/install", "/bitrix/app")
        if via == "page":
            form, query = events.install_page(portal, access, refresh)
            return events.post(install_url, form, params=query)
        return events.post(install_url, events.install_event(portal, access, refresh))

    def open_app(self, portal: EmulatedPortal, user_id: str = "1", url: str = "", lang: str = "en") -> requests.Response:
        """A user opens the installed app: the portal POSTs the user's AUTH_ID to its page (``url``:
        another address, e.g. the install URL of an app registered the old way)."""
        with self.lock:
            form, query = apppage.open_form(portal, user_id, lang)
            target = url or portal.app_url
        return events.post(target, form, params=query)

    def app_frame_url(self, portal: EmulatedPortal, user_id: str = "1", lang: str = "en") -> str:
        """The portal's page with the app in its iframe, as ``user_id`` sees it (for a browser)."""
        return f"{self.base_url}/{portal.name}/app?user={user_id}&lang={lang}"

    def uninstall(self, portal: EmulatedPortal, clean: bool = False) -> requests.Response | None:
        """Remove the app: its senders and tokens go, and ONAPPUNINSTALL reaches its bound handler."""
        with self.lock:
            handler = portal.events.get("ONAPPUNINSTALL")
            portal.installed = False
            portal.senders.clear()
            portal.events.clear()
            portal.connectors.clear()  # the app's connectors go with it; the chats stay on the portal
            portal.active.clear()
            portal.connector_data.clear()
            portal.access_tokens.clear()
            portal.refresh_tokens.clear()
        if not handler:
            return None
        return events.post(handler, events.uninstall_event(portal, clean))

    def update_app(
        self, portal: EmulatedPortal, *, drop_bindings: bool = False, drop_connector: bool = False
    ) -> requests.Response | None:
        """A new version of the app reaches the portal, as Bitrix24's core handles it: every
        messageservice sender of the app is deleted (``RestService::onRestAppUpdate`` calls
        ``onRestAppDelete``) and so are its installer-only event handlers (``ONAPPINSTALL``); then
        ONAPPUPDATE (a fresh token pair in ``auth``, ``data[VERSION]``, ``data[PREVIOUS_VERSION]``)
        goes to the handler bound for it when the update began. Whether the other ``event.bind``
        bindings and the Open Lines connector (with its placement and line activations) survive is
        not documented: ``drop_bindings`` / ``drop_connector`` remove them too."""
        with self.lock:
            handler = portal.events.get("ONAPPUPDATE")
            previous = portal.app_version
            portal.app_version += 1
            access, refresh = portal.issue_tokens()
            form = events.update_event(portal, access, refresh, previous)
            portal.senders.clear()
            portal.events.pop("ONAPPINSTALL", None)
            if drop_bindings:
                portal.events.clear()
            if drop_connector:
                portal.connectors.clear()
                portal.active.clear()
                portal.connector_data.clear()
        if not handler:
            return None
        return events.post(handler, form)

    def send_sms(
        self,
        portal: EmulatedPortal,
        to: str,
        text: str,
        *,
        with_auth: bool = True,
        message_id: str | None = None,
        code: str | None = None,
        bindings: list[tuple[int, int]] | None = None,
    ) -> tuple[str, requests.Response]:
        """What the portal does when a user (with_auth) or a robot (without) sends an SMS; ``bindings``:
        the CRM items it is sent from, (entityTypeId, id) each (default: a contact 17 and a deal 42)."""
        with self.lock:
            if not portal.senders:
                raise RuntimeError("the app registered no sender on this portal")
            code = code or next(iter(portal.senders))
            handler = portal.senders[code]["HANDLER"]
            message_id = message_id or secrets.token_hex(16)
            timeline = portal.messages.setdefault(message_id, [])
            if not timeline:
                timeline.append("sent")  # Bitrix24 marks a message sent as it hands it to the provider
                portal.status_times[message_id] = [time.time()]
        form = events.sms(code, message_id, to, text)
        if bindings is not None:
            form["bindings"] = [{"OWNER_TYPE_ID": str(t), "OWNER_ID": str(i)} for t, i in bindings]
        if with_auth:
            form["auth"] = events.auth_block(portal, portal.current_access_token)
        return message_id, events.post(handler, form)

    # -- the portal's Open Lines, towards the app -----------------------------------------------------
    def chat_for(self, portal: EmulatedPortal, connector: str, line: str | int, chat_external_id: str) -> EmulatedChat | None:
        """The Open Lines chat the app's messages for this external chat went to, if any."""
        with self.lock:
            return portal.chats.get((connector, str(line), str(chat_external_id)))

    def open_connector_settings(
        self, portal: EmulatedPortal, connector: str, line: str | int, url: str | None = None, active: bool = True
    ) -> requests.Response:
        """An admin connects (active) or disconnects the channel on a line in the Contact Center: the
        portal opens the connector's PLACEMENT_HANDLER (or ``url``) in its SETTING_CONNECTOR slider."""
        with self.lock:
            handler = url or str(portal.connectors.get(connector, {}).get("PLACEMENT_HANDLER") or "")
            if not handler:
                raise RuntimeError(f"connector {connector!r} is not registered on this portal")
            if str(line) not in portal.lines:
                raise RuntimeError(f"no open line {line!r} on this portal")
            access, refresh = portal.issue_tokens()
        form, query = events.connector_settings(portal, connector, line, access, refresh, active)
        return events.post(handler, form, params=query)

    def operator_reply(
        self,
        portal: EmulatedPortal,
        connector: str,
        line: str | int,
        chat_external_id: str,
        text: str,
        user_id: str = "1",
        files: list[dict[str, Any]] | None = None,
    ) -> tuple[int, requests.Response]:
        """An operator answers in the Open Lines chat: ONIMCONNECTORMESSAGEADD reaches the app's bound
        handler. Returns the im message id of the reply and the app's response."""
        line = str(line)
        with self.lock:
            handler = portal.events.get("ONIMCONNECTORMESSAGEADD")
            if not handler:
                raise RuntimeError("the app bound no handler to OnImConnectorMessageAdd on this portal")
            chat = portal.chats.get((connector, line, str(chat_external_id)))
            if chat is None:
                raise RuntimeError(f"no Open Lines chat for {connector}/{line}/{chat_external_id}")
            if not portal.is_active(connector, line):
                raise RuntimeError(f"connector {connector!r} is not active on line {line}: the portal would not send")
            message_id = portal.new_id()
            chat.operator_messages[message_id] = OperatorMessage(message_id, text, str(user_id), list(files or []))
            form = events.operator_message(portal, chat, message_id, text, user_id, files)
        return message_id, events.post(handler, form)

    def delete_line(self, portal: EmulatedPortal, line: str | int) -> requests.Response | None:
        """An admin deletes an open line: its activations go, ONIMCONNECTORLINEDELETE (data=<line id>) is sent."""
        line = str(line)
        with self.lock:
            if line not in portal.lines:
                raise RuntimeError(f"no open line {line!r} on this portal")
            del portal.lines[line]
            for key in [k for k in portal.active if k[1] == line]:
                del portal.active[key]
            for key in [k for k in portal.connector_data if k[1] == line]:
                del portal.connector_data[key]
            posting = events.bound_event(portal, "ONIMCONNECTORLINEDELETE", line)
        return events.post(*posting) if posting else None

    def delete_connector_status(self, portal: EmulatedPortal, connector: str, line: str | int) -> requests.Response | None:
        """The connector's status on a line is deleted (not active, not configured any more), as when an
        admin disconnects the channel: ONIMCONNECTORSTATUSDELETE (data[connector], data[line]) is sent."""
        line = str(line)
        with self.lock:
            portal.active.pop((connector, line), None)
            posting = events.bound_event(portal, "ONIMCONNECTORSTATUSDELETE", {"connector": connector, "line": line})
        return events.post(*posting) if posting else None
