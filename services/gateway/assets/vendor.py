"""Copy the front-end files the gateway serves from the npm packages in ``node_modules`` (installed
from ``package-lock.json`` by ``make assets``) into ``gateway/static/vendor``.

Plain copying, because the pages need no bundler: KRDS (the Korean government design system)
ships ready CSS, fonts and icons, Swagger UI a ready bundle, and jsQR (which reads QR codes from
the camera at the door, where the browser has no BarcodeDetector) one ready script. One fix on the
way: KRDS 1.1.0's component CSS points at ``../../img/img/...``, one ``img/`` too many, so its icons
would not load.
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
TARGET = HERE.parent / "gateway" / "static" / "vendor"

KRDS_FILES = (
    "resources/css/token/krds_tokens.css",
    "resources/css/common/common.css",
    "resources/css/component/component.css",
    "resources/fonts",
    "resources/img/component/icon",
)
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")
JSQR_FILES = ("dist/jsQR.js",)


def _copy(package: str, relative: str, target: Path) -> None:
    source = MODULES / package / relative
    destination = target / relative.removeprefix("resources/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, destination)


def main() -> int:
    if not MODULES.is_dir():
        print(f"{MODULES} is missing: run npm ci in {HERE} first", file=sys.stderr)
        return 1
    shutil.rmtree(TARGET, ignore_errors=True)
    for relative in KRDS_FILES:
        _copy("krds-uiux", relative, TARGET / "krds")
    for css in (TARGET / "krds" / "css").rglob("*.css"):
        fixed = css.read_text(encoding="utf-8").replace("../../img/img/", "../../img/")
        css.write_text(fixed, encoding="utf-8")
    for relative in SWAGGER_FILES:
        _copy("swagger-ui-dist", relative, TARGET / "swagger-ui")
    for relative in JSQR_FILES:
        _copy("jsqr", relative, TARGET / "jsqr")
    for package, license_file in (
        ("krds-uiux", "package.json"),
        ("swagger-ui-dist", "LICENSE"),
        ("jsqr", "LICENSE"),
    ):
        _copy(package, license_file, TARGET / "licenses" / package)
    print(f"front-end files copied to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
