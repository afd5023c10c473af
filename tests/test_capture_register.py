"""Part 1 of issue 22: the population register, the operator register and starting a capture
session (refusals with their reasons, issuance types, foreign residents, logged-in operators)."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest
from _capture import TODAY, adult, make_station, operator_finger, start, supervisor_finger

from enrollment.capture import (
    CaptureError,
    ForeignResidentRefused,
    NotAuthorised,
    OperatorRegister,
    PopulationRegister,
    Resident,
    SessionStateError,
    UnderAge,
    UnknownNik,
    WrongFamilyCard,
)
from enrollment.capture.register import REGIONS
from enrollment.store import Citizenship


def test_the_synthetic_register_is_the_same_for_the_same_seed() -> None:
    a = PopulationRegister.synthetic(120, seed=4).residents()
    assert a == PopulationRegister.synthetic(120, seed=4).residents()
    assert a != PopulationRegister.synthetic(120, seed=5).residents()
    assert len(a) == 120


def test_synthetic_residents_have_consistent_niks_and_families() -> None:
    register = PopulationRegister.synthetic(300, seed=9)
    families: dict[str, set[str]] = {}
    members: dict[str, int] = {}
    for r in register.residents():
        day = int(r.nik[6:8])
        assert (day > 40) == (r.sex == "F")
        assert (day - 40 if day > 40 else day) == r.date_of_birth.day
        assert r.nik[8:10] == f"{r.date_of_birth.month:02d}"
        assert r.nik[:6] == r.region == r.family_card[:6]
        assert r.region in REGIONS and r.village_code.startswith(r.region)
        assert r.religion in {"ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA", "KHONGHUCU"}
        assert len(r.rt) == len(r.rw) == 3
        families.setdefault(r.family_card, set()).add(r.address)
        members[r.family_card] = members.get(r.family_card, 0) + 1
    assert all(len(addresses) == 1 for addresses in families.values())
    assert max(members.values()) > 1
    ages = [r.age_on(TODAY) for r in register.residents()]
    assert min(ages) < 17 <= max(ages)


def _resident(**changes: object) -> Resident:
    base = Resident(
        nik="3171014501100001",
        family_card="3171010000000001",
        name="SITI",
        sex="F",
        date_of_birth=datetime.date(2010, 1, 5),
        place_of_birth="JAKARTA",
        address="JL. MAWAR 1",
        rt="001",
        rw="002",
        village="TEBET BARAT",
        village_code="3171012001",
        district="TEBET",
        regency="JAKARTA SELATAN",
        province="DKI JAKARTA",
        religion="ISLAM",
        marital_status="BELUM KAWIN",
        occupation="PELAJAR/MAHASISWA",
        blood_type="O",
    )
    return dataclasses.replace(base, **changes)


def test_admission_refuses_with_the_reason() -> None:
    child = _resident()
    married = _resident(nik="3171014501100002", marital_status="KAWIN")
    foreign = _resident(
        nik="3171014501800003",
        date_of_birth=datetime.date(1980, 1, 5),
        citizenship=Citizenship.FOREIGN_RESIDENT,
        kitap="2C123456789",
    )
    register = PopulationRegister([child, married, foreign])
    with pytest.raises(UnknownNik, match="not in the population register"):
        register.admit("3171014501100009", child.family_card, on=TODAY)
    with pytest.raises(WrongFamilyCard, match="3171010000000009"):
        register.admit(child.nik, "3171010000000009", on=TODAY)
    with pytest.raises(UnderAge, match="resident is 16") as info:
        register.admit(child.nik, child.family_card, on=TODAY)
    assert info.value.age == 16 and info.value.nik == child.nik
    assert register.admit(child.nik, child.family_card, on=datetime.date(2027, 1, 5)) == child
    assert register.admit(married.nik, married.family_card, on=TODAY) == married
    with pytest.raises(ForeignResidentRefused, match="KITAP"):
        register.admit(foreign.nik, foreign.family_card, on=TODAY)
    assert register.admit(foreign.nik, foreign.family_card, on=TODAY, kitap="2C123456789")
    with pytest.raises(ForeignResidentRefused, match="citizen has no KITAP"):
        register.admit(married.nik, married.family_card, on=TODAY, kitap="2C1")


def test_a_resident_record_is_validated() -> None:
    with pytest.raises(CaptureError, match="nik must be 16 digits"):
        _resident(nik="123")
    with pytest.raises(CaptureError, match="KITAP"):
        _resident(citizenship=Citizenship.FOREIGN_RESIDENT)
    with pytest.raises(CaptureError, match="appears twice"):
        PopulationRegister([_resident(), _resident()])
    r = _resident()
    assert Resident.from_dict(r.to_dict()) == r


def test_starting_a_session_checks_resident_issuance_and_operator(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    resident = adult(station)
    login = station.login("op-1", operator_finger())
    with pytest.raises(NotAuthorised, match="does not match"):
        station.login("op-1", supervisor_finger())
    with pytest.raises(NotAuthorised, match="not in the station's operator register"):
        station.login("nobody", operator_finger())
    with pytest.raises(NotAuthorised, match="logged-in operator"):
        station.start_session(
            resident.nik, resident.family_card, operator="op-1", issuance="regular"
        )
    with pytest.raises(SessionStateError, match="call letter"):
        station.start_session(resident.nik, resident.family_card, operator=login, issuance="mass")
    with pytest.raises(SessionStateError, match="home visit needs its reason"):
        station.start_session(
            resident.nik, resident.family_card, operator=login, issuance="home_visit"
        )
    with pytest.raises(UnknownNik):
        station.start_session("3171010101990001", "1" * 16, operator=login, issuance="regular")
    child = next(r for r in station.register.residents() if r.age_on(TODAY) < 17)
    with pytest.raises(UnderAge):
        station.start_session(child.nik, child.family_card, operator=login, issuance="regular")
    session = station.start_session(
        resident.nik,
        resident.family_card,
        operator=login,
        issuance="home_visit",
        home_visit_reason="bedridden after a stroke",
    )
    assert session.resident == resident
    assert station.open_sessions() == [session.session_id]
    with pytest.raises(SessionStateError, match="open session"):
        start(station, resident)
    actions = [e["action"] for e in station.audit.events()]
    assert actions.count("session.refused") == 2
    assert actions.count("session.started") == 1 and "operator.login.refused" in actions


def test_a_foreign_resident_starts_with_the_kitap(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    foreign = next(
        (r for r in PopulationRegister.synthetic(2000, seed=11).residents() if r.kitap), None
    )
    assert foreign is not None
    foreign = dataclasses.replace(foreign, date_of_birth=datetime.date(1980, 1, 1))
    station.register = PopulationRegister([foreign])
    login = station.login("op-1", operator_finger())
    with pytest.raises(ForeignResidentRefused):
        station.start_session(foreign.nik, foreign.family_card, operator=login, issuance="regular")
    session = station.start_session(
        foreign.nik, foreign.family_card, operator=login, issuance="regular", kitap=foreign.kitap
    )
    assert session.state["citizenship"] == "foreign_resident"


def test_the_operator_register_round_trips_and_refuses_a_damaged_file(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    path = station.operators.save(tmp_path / "staff.json")
    again = OperatorRegister.load(path)
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert again.authenticate("sv-1", supervisor_finger(), at=at).role.value == "supervisor"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CaptureError, match=r"staff\.json"):
        OperatorRegister.load(path)
