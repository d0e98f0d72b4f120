"""Simulation of routing that learns from the OGI office (issue #13): a year of generated applications
to 云南省人民政府办公厅, month by month. Routing (services/routing/rules.py) routes what it can; the
OGI office triages the rest (it knows the right departments: the generator's label) and each of its
decisions is a labelled example; at the end of each month routing proposes rules
(services/routing/learning.py) and a directory admin accepts those that are right (the phrase is one
of the department's own subjects in the generator) and rejects the others; each acceptance is a
new directory version. Prints the triage share month by month, and the cases routed wrongly (the
target is none).

    .local/venv/bin/python -m benchmarks.routing_learning [--cases-per-month 80] [--seed 13]

Pure and in memory (no store, no broker): the same functions the service runs.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

import services.routing as routing
from services.routing import Directory, apply_change, decide

PLACES = ("某县", "某市", "某州", "某镇", "某区", "某乡", "某街道", "某村")
YEARS = ("", "2025年", "2026年", "2024年")
# What applicants ask each department for. The first terms are words the directory (or the usual
# phrasings) already knows; the "new" ones are what the OGI office will have to teach.
TERMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "zrzy": (("征地补偿标准", "建设用地批复", "不动产登记"), ("增减挂钩节余指标", "城乡建设用地增减挂钩", "地价评估")),
    "czt": (("部门预算", "政府采购结果", "专项资金"), ("政府购买服务", "财政贴息", "惠民惠农补贴资金")),
    "zjt": (("房屋征收补偿方案", "公租房分配", "棚户区改造"), ("物业专项维修资金", "房屋网签备案", "装配式建筑")),
    "sthjt": (("环境影响评价文件", "水质监测数据", "排污许可证"), ("机动车尾气检测", "生态保护红线", "秸秆焚烧监测")),
    "fgw": (("项目核准文件", "政府定价目录", "立项批复"), ("峰谷分时电价", "粮食最低收购价", "能耗双控")),
    "jtyst": (("农村公路建设计划", "客运班线许可", "国道改扩建"), ("通村客车", "公路养护工区", "车辆超限检测站")),
    "slt": (("水库除险加固", "河道采砂许可", "灌区续建配套"), ("中小河流治理", "水库移交管护", "抗旱水源工程")),
    "nynct": (("耕地地力保护补贴", "农机购置补贴", "宅基地审批"), ("撂荒地复耕", "稻渔综合种养", "农村集体产权制度改革")),
    "rst": (("公开招聘", "最低工资标准", "养老保险"), ("见习补贴", "技能人才评价", "公益性岗位")),
    "jyt": (("招生入学", "学生资助", "义务教育"), ("控辍保学", "集团化办学", "校外培训机构")),
    "wjw": (("医疗机构执业许可", "传染病疫情", "疫苗接种"), ("家庭医生签约", "医共体建设", "托育机构备案")),
    "ybj": (("医保报销比例", "医疗服务价格", "带量采购"), ("医保电子凭证", "门诊共济", "DRG付费")),
    "mzt": (("低保标准", "特困人员救助供养", "养老机构备案"), ("殡仪馆收费", "残疾人护理补贴", "社区养老服务站")),
    "gat": (("户口迁移", "道路交通事故", "出入境证件"), ("无犯罪记录证明", "电动自行车登记", "暂住登记")),
}
DOCS = ("的有关文件", "的标准", "的名单", "的实施方案", "的办理结果", "的批复", "的情况", "的清单", "的公告")
NOT_OGI = ("我要投诉{p}{t}的问题，请严肃处理", "举报{p}违规办理{t}", "请帮我统计{p}近三年{t}的情况并形成报告",
           "反映{p}{t}不公平，请调查处理")
UNCLEAR = ("请公开{p}法院的判决书", "请公开{p}国有企业的财务报表", "请公开有关{p}的相关文件")


@dataclass
class Case:
    case_id: str
    description: str
    label: tuple[str, ...] | None  # None: not for any department (not OGI, or unclear)
    not_ogi: bool = False


def generate(rng: random.Random, month: int, n: int) -> list[Case]:
    out = []
    for i in range(n):
        cid = f"m{month:02d}-{i:03d}"
        r = rng.random()
        place = rng.choice(PLACES)
        if r < 0.08:
            dept = rng.choice(list(TERMS))
            term = rng.choice(TERMS[dept][0] + TERMS[dept][1])
            out.append(Case(cid, rng.choice(NOT_OGI).format(p=place, t=term), None, not_ogi=True))
        elif r < 0.12:
            out.append(Case(cid, rng.choice(UNCLEAR).format(p=place), None))
        else:
            dept = rng.choice(list(TERMS))
            known, new = TERMS[dept]
            term = rng.choice(new if rng.random() < 0.6 else known)
            out.append(Case(cid, f"请公开{place}{rng.choice(YEARS)}{term}{rng.choice(DOCS)}", (dept,)))
    return out


def right_rule(phrase: str, dept: str) -> bool:
    """The admin's judgement: the phrase is (part of) one of the department's own subjects and of no
    other's, and specific: three characters or more, or a whole subject (付费 alone is too broad)."""
    terms = TERMS[dept][0] + TERMS[dept][1]
    own = any(phrase in t for t in terms)
    other = any(phrase in t for d, (k, n) in TERMS.items() if d != dept for t in k + n)
    return own and not other and (len(phrase) >= 3 or phrase in terms)


def accept(directory: Directory, proposal: routing.Proposal) -> Directory:
    payload = routing.accepted_department(directory, proposal.as_dict())
    raw, _ = apply_change(directory.raw, "upsert_department", directory.agency_code, payload)
    return routing.parse_directory(raw, str(int(directory.version) + 1))


def simulate(cases_per_month: int = 80, seed: int = 13, months: int = 12) -> list[dict[str, float]]:
    rng = random.Random(seed)
    directory = routing.load_directory()
    examples: list[routing.Example] = []
    closed: set[str] = set()
    rows = []
    for month in range(1, months + 1):
        cases = generate(rng, month, cases_per_month)
        triaged = wrong = right = 0
        for c in cases:
            d = decide(directory, c.description, [])
            if d.triage:
                triaged += 1
                # The OGI office decides: the departments, or "not an OGI request" (unclear ones are
                # referred or answered otherwise: no example).
                if c.label:
                    examples.append(routing.example_from(c.case_id, c.description, c.label))
                elif c.not_ogi:
                    examples.append(routing.example_from(c.case_id, c.description, not_ogi=True))
            elif c.label is None or set(d.codes) != set(c.label):
                wrong += 1
            else:
                right += 1
        accepted = rejected = 0
        for p in routing.propose(directory, examples, closed=closed):
            closed.add(p.proposal_id)
            if right_rule(p.phrase, p.dept_code):
                directory = accept(directory, p)
                accepted += 1
            else:
                rejected += 1
        rows.append({"month": month, "cases": len(cases), "triage": triaged, "share": triaged / len(cases),
                     "right": right, "wrong": wrong, "accepted": accepted, "rejected": rejected,
                     "version": directory.version})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases-per-month", type=int, default=80)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rows = simulate(args.cases_per_month, args.seed)
    print("month  cases  triage  share   routed right  wrong  rules accepted/rejected  directory version")
    for r in rows:
        print(f"{r['month']:>5}  {r['cases']:>5}  {r['triage']:>6}  {r['share']:>5.0%}   {r['right']:>12}  "
              f"{r['wrong']:>5}  {r['accepted']:>10}/{r['rejected']:<13}  {r['version']:>6}")
    total_wrong = sum(r["wrong"] for r in rows)
    print(f"triage share: {rows[0]['share']:.0%} in month 1 -> {rows[-1]['share']:.0%} in month {rows[-1]['month']}; "
          f"routed wrongly over the year: {total_wrong}")


if __name__ == "__main__":
    main()
