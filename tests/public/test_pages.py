from __future__ import annotations

import re

import httpx
import pytest

VI_HOME_WORDS = ["Các cuộc thi", "Chủ đề", "Phát triển văn hóa đọc thúc đẩy học tập suốt đời"]


@pytest.mark.usefixtures("demo")
async def test_home_speaks_vietnamese_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})

    assert response.status_code == 200
    assert response.headers["content-language"] == "vi"
    assert '<html lang="vi">' in response.text
    for words in VI_HOME_WORDS:
        assert words in response.text
    assert "Tuần lễ hưởng ứng học tập suốt đời năm 2024" in response.text
    assert "UBND phường Bạch Sam" in response.text
    # Each contest with its window and a countdown to its deadline.
    for title in ["Viết về cuốn sách em yêu", "Vẽ tranh theo sách", "Kể chuyện sách"]:
        assert title in response.text
    assert response.text.count('class="countdown"') == 3
    assert "Sắp hết hạn" in response.text
    assert "Contests" not in response.text


@pytest.mark.usefixtures("demo")
async def test_language_switch_sticks_for_the_visitor(client: httpx.AsyncClient) -> None:
    switched = await client.get("/lang/en", params={"next": "/contests/ke-chuyen-sach"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/contests/ke-chuyen-sach"
    assert "lang=en" in switched.headers["set-cookie"]
    assert "httponly" in switched.headers["set-cookie"].lower()

    home = await client.get("/")
    assert '<html lang="en">' in home.text
    assert "Contests" in home.text and "Theme" in home.text
    assert "Các cuộc thi" not in home.text
    # The seed's own text stays as the organisers wrote it.
    assert "Tuần lễ hưởng ứng học tập suốt đời năm 2024" in home.text

    back = await client.get("/lang/vi")
    assert back.status_code == 303
    assert "Các cuộc thi" in (await client.get("/")).text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
async def test_language_switch_never_leaves_the_site(
    client: httpx.AsyncClient, target: str
) -> None:
    response = await client.get("/lang/en", params={"next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_unknown_language_is_a_localized_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/lang/fr")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text


@pytest.mark.usefixtures("demo")
async def test_contest_page_shows_rules_divisions_books_and_window(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/contests/ve-tranh-theo-sach")

    assert response.status_code == 200
    text = response.text
    assert "Vẽ tranh theo sách" in text
    assert "Vẽ tranh" in text  # the kind
    assert "Thể lệ" in text and "Tranh vẽ trên khổ A4 hoặc A3" in text
    assert "Tiểu học" in text and "từ 6 đến 11 tuổi" in text
    assert "Đất rừng phương Nam" in text and "Đoàn Giỏi" in text
    assert "Hạn nộp" in text and "23:59" in text
    assert "JPEG, PNG, WEBP, HEIC, PDF" in text
    assert "20 MB" in text
    assert "Bố cục" in text and "Sắp xếp hình ảnh hài hòa, rõ trọng tâm." in text


async def test_unknown_route_is_a_localized_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy trang" in response.text
    assert "Về trang chủ" in response.text

    client.cookies.set("lang", "en")
    response = await client.get("/contests/no-such-contest")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Không tìm thấy trang" not in response.text


async def test_home_without_an_event_says_so(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "Chưa có sự kiện" in response.text


@pytest.mark.usefixtures("demo")
async def test_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    for path in ["/", "/contests/ke-chuyen-sach", "/missing"]:
        response = await client.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.usefixtures("demo")
async def test_every_page_has_its_icon(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"
    assert re.search(r'rel="icon" href="[^"]*/favicon\.ico"', (await client.get("/")).text)
