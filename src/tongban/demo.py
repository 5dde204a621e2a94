"""``tongban demo``: prepare (once) and run the whole region on this machine."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from tongban.identity.demo_accounts import DEMO_PASSWORD
from tongban.region import PROVINCES, Region

BANNER = """
通办 Tongban — 长三角政务服务“一网通办” demo region is running
  枢纽 hub            {hub}   (API docs: {hub}/api/v1/docs)
  上海 随申办 (sh)    {sh}
  江苏 苏服办 (js)    {js}
  浙江 浙里办 (zj)    {zj}
  安徽 皖事通 (ah)    {ah}

Demo logins (password for all: {password})
  嘉善县窗口 clerk (zj)        jiashan.clerk      → {zj}/window/
  青浦区市场监管局 official (sh) qingpu.official   → {sh}/work/
  applicant 张伟 (zj)          zhangwei           → {zj}/me/cases/
  residents (L3), legal representatives: zhangwei (zj) lina (sh) wangfang (js) chenjing (ah)
  enterprise agents (L2):   shenjia (zj) gujun (sh) xuming (js) hetao (ah) → /me/enterprises/
  residents sign in with a one-time SMS code: the demo prints it here, as [短信 → 139****1234]
  other windows: qingpu.clerk huangpu.clerk (sh) · wujiang.clerk (js) · hefei.clerk (ah)

E-licences (电子证照)
  张伟's 证照夹 at home (zj)     zhangwei           → {zj}/me/licences/  (issued in js, sh and zj)
  亮证 there, then 核验 anywhere                       → {sh}/verify/  or  tongban --node sh verify <QR>
  免证办: apply at {zj}/apply/000530001000/ (住房公积金, 合肥) using the 不动产权证书
  issuing officials: wujiang.official (js) sh.police.official (sh) → /work/licences/
  node administrators: sh.admin js.admin zj.admin ah.admin (Django admin at /admin/)

数据共享 (data sharing)
  数据核验 on 张伟's 公积金 case at ah      hefei.fund.official → {ah}/work/
  张伟's 数据使用记录 with proofs (zj)      zhangwei           → {zj}/me/data-use/
  数据专员 answering flags (ah)            hefei.fund.data    → {ah}/data-officer/
  cosigned audit checkpoint               {ah}/api/v1/audit/checkpoint · tongban --node ah audit verify
  every account: {root}/accounts.txt

Data and logs under {root}. Ctrl-C stops everything.
"""


class SmsRelay:
    """The console SMS backend writes to each web server's log; show those texts here."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.offsets = {p: p.stat().st_size for p in logs.glob("*-web.log")}

    def relay(self) -> None:
        for path in self.logs.glob("*-web.log"):
            offset = self.offsets.get(path, 0)
            size = path.stat().st_size
            if size <= offset:
                continue
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read(size - offset).decode("utf-8", errors="replace")
            self.offsets[path] = size
            for line in chunk.splitlines():
                if "[短信" in line:
                    print(f"{path.stem.removesuffix('-web')}: {line.strip()}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="tongban demo")
    parser.add_argument("--base-port", type=int, default=8000)
    parser.add_argument("--root", default="var")
    parser.add_argument("--no-seed", action="store_true", help="do not create sample cases")
    parser.add_argument("--prepare-only", action="store_true", help="prepare and seed, then exit")
    args = parser.parse_args(argv)

    region = Region(
        root=Path(args.root).resolve(),
        base_port=args.base_port,
        # audit checkpoints (and data-use proofs) every 30 s, so that a new use is proven soon
        extra_env={"TONGBAN_AUDIT_CHECKPOINT_SECONDS": "30"},
    )
    if region.is_prepared():
        print(f"reusing the prepared region in {region.root}")
    else:
        print(f"preparing the region in {region.root} (first run only)")
        region.prepare()
        accounts = [f"# hub — {region.url('hub')}\n" + region.manage("hub", "demo-accounts")]
        for node in PROVINCES:
            accounts.append(
                f"# {node} — {region.url(node)}\n" + region.manage(node, "demo-accounts")
            )
        (region.root / "accounts.txt").write_text("\n".join(accounts), encoding="utf-8")

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        region.start_all()
        seeded = region.root / "seeded.json"
        if not args.no_seed and not seeded.exists():
            from tongban.demo_seed import seed_region

            print("creating sample cases through the API …")
            count = seed_region(region)
            seeded.write_text(json.dumps({"cases": count}))
        urls = {n: region.url(n) for n in ("hub", *PROVINCES)}
        print(BANNER.format(password=DEMO_PASSWORD, root=region.root, **urls), flush=True)
        sms = SmsRelay(region.root / "logs")
        while not stopping and not args.prepare_only:
            time.sleep(0.5)
            sms.relay()
            for name, proc in list(region.processes.items()):
                if proc.poll() is not None:
                    print(
                        f"{name} exited with {proc.returncode}; see {region.root}/logs/{name}.log",
                        file=sys.stderr,
                    )
                    stopping = True
    finally:
        print("stopping …", flush=True)
        region.stop_all()
