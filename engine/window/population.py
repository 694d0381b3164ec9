"""人口库查询 at intake: the applicant's household from the population database, before any case exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from connectors import ConnectorError, MalformedAnswer
from connectors.population import CONNECTOR, NotInRegister

from .. import clock, secrets
from ..audit import system
from ..config import Settings
from ..db import Database
from ..errors import BianminError, Forbidden, NotFound, ValidationFailed
from ..idcard import InvalidIdNumber, mask_id_number, validate_id_number
from ..models import User
from ..people import access
from ..vocabulary import SystemEventKind

BY_HAND = "请手工填写申请人及家庭信息"


class LookupNotConfigured(BianminError):
    status = 503

    def __init__(self) -> None:
        super().__init__(f"本系统未配置人口库查询（BIANMIN_POPULATION_URL），{BY_HAND}")


class LookupIdNumberInvalid(ValidationFailed):
    def __init__(self, message: str) -> None:
        super().__init__(f"无法查询人口库：{message}", fields={"id_number": [message]})


class NotInPopulationRegister(NotFound):
    def __init__(self, id_number: str) -> None:
        super().__init__(f"人口库中没有身份证号码 {mask_id_number(id_number)} 的户籍信息：请核对号码，或{BY_HAND}")


class PopulationUnreachable(BianminError):
    """A time-out, a refused connection or an error answer: the clerk goes on by hand rather than waiting."""

    status = 502

    def __init__(self, cause: str) -> None:
        super().__init__(f"人口库暂时无法查询（{cause}），{BY_HAND}，或稍后再试")


class PopulationAnswerMalformed(BianminError):
    status = 502

    def __init__(self, cause: str) -> None:
        super().__init__(f"{cause}，无法使用，{BY_HAND}，并请系统管理员联系人口库接口的维护单位")


@dataclass(frozen=True)
class Household:
    household_number: str
    address: str
    members: list[dict[str, str]]
    # The member whose number was looked up, when the register lists them (it should): the applicant.
    applicant: dict[str, str] | None

    def shown(self) -> dict[str, Any]:
        """As the clerk sees it (page and API alike): every member's ID number masked, the applicant's too."""
        return {"household_number": self.household_number, "address": self.address,
                "applicant_name": self.applicant["name"] if self.applicant else None,
                "members": [member | {"id_number": mask_id_number(member["id_number"])} for member in self.members]}


def look_up(db: Database, settings: Settings, actor_id: int, id_number: Any) -> Household:
    """The household registered under `id_number`, asked synchronously (no case, no lock), and recorded on the
    system chain with the number masked and the member count; only the number leaves the system."""
    with db.read() as session:
        user = session.get(User, actor_id)
        if user is None or not access.may_accept(user):
            raise Forbidden("只有村代办员和便民服务中心窗口人员可以在受理时查询人口库")
        keyed = settings.population_key_secret in secrets.names(session)
    if not settings.population_url:
        raise LookupNotConfigured()
    try:
        number = validate_id_number(id_number if isinstance(id_number, str) else "")
    except InvalidIdNumber as exc:
        raise LookupIdNumberInvalid(exc.message) from None
    params = {"url": settings.population_url, "id_number": number}
    if keyed:
        params["bearer_secret"] = settings.population_key_secret
    try:
        found = CONNECTOR.call(params, secrets.reader(db, settings), settings.connector_timeout_seconds,
                               f"population:{uuid4()}")
    except NotInRegister:
        _record(db, actor_id, number, {"found": False})
        raise NotInPopulationRegister(number) from None
    except MalformedAnswer as exc:
        raise PopulationAnswerMalformed(exc.message) from None
    except ConnectorError as exc:
        raise PopulationUnreachable(exc.message) from None
    _record(db, actor_id, number, {"found": True, "members": len(found["members"])})
    applicant = next((m for m in found["members"] if m["id_number"].strip().upper() == number), None)
    return Household(found["household_number"], found["address"], found["members"], applicant)


def _record(db: Database, actor_id: int, number: str, after: dict[str, Any]) -> None:
    """Who asked the register about whom: the masked number and what came back, never a name."""
    with db.write() as session:
        system.append(session, SystemEventKind.POPULATION_LOOKED_UP, session.get(User, actor_id), clock.now(),
                      mask_id_number(number), after=after)
