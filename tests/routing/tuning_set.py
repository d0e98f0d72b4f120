"""The tuning set of issue #13 (routing that learns): descriptions written fresh from the seeds' kinds
of request, in the wording applicants use rather than the directory's (a project's procurement
results, an expropriation decision, a subsidy's standard, a recruitment's results …). The matching
of services/routing/rules.py (jieba segmentation, services/routing/phrasings.py) was tuned on this
set; its figures are in-sample. The out-of-sample measure is heldout_set.py, written afterwards and
never used for tuning.

Labels as in labelled_set.py: the exact set of departments of 云南省人民政府办公厅, or TRIAGE (not an
OGI request — complaint, report, petition, compiling or analysing, consultation — or unclear, or held
by no department of the directory).
"""

from __future__ import annotations

from tests.routing.labelled_set import TRIAGE

TUNING: list[tuple[str, frozenset[str] | str]] = [
    # --- land (自然资源厅) ---------------------------------------------------------------------------
    ("请公开某村土地征收的征收决定", frozenset({"zrzy"})),
    ("申请公开某开发区项目用地的农用地转用批复", frozenset({"zrzy"})),
    ("请公开我村土地被征收时的补偿安置方案", frozenset({"zrzy"})),
    ("请公开某县2025年国有建设用地供应计划", frozenset({"zrzy"})),
    ("请公开某矿山的采矿许可证及延续登记信息", frozenset({"zrzy"})),
    ("请公开某宗地土地出让金的缴纳情况", frozenset({"zrzy"})),
    ("请公开某县第三次全国国土调查的耕地数据", frozenset({"zrzy"})),
    ("请公开某镇村庄规划的批复文件", frozenset({"zrzy"})),
    # --- finance (财政厅) ----------------------------------------------------------------------------
    ("请公开某县2025年财政预算执行情况", frozenset({"czt"})),
    ("请公开某医院改扩建项目的政府采购结果", frozenset({"czt"})),
    ("请公开2024年省对下一般性转移支付的分配情况", frozenset({"czt"})),
    ("请公开某市2025年新增专项债券的使用情况", frozenset({"czt"})),
    ("请公开省本级2024年国有资本经营预算", frozenset({"czt"})),
    # --- housing (住房城乡建设厅) ---------------------------------------------------------------------
    ("请公开某片区旧城改造的房屋征收决定", frozenset({"zjt"})),
    ("请公开某项目国有土地上房屋征收的补偿决定", frozenset({"zjt"})),
    ("请公开某小区商品房预售许可证", frozenset({"zjt"})),
    ("请公开2025年老旧小区改造项目的实施计划", frozenset({"zjt"})),
    ("请公开某县保障性租赁住房的申请条件和配租结果", frozenset({"zjt"})),
    # --- environment (生态环境厅) ---------------------------------------------------------------------
    ("请公开某工厂扩建项目环评报告的审批意见", frozenset({"sthjt"})),
    ("请公开某县饮用水水源地的水质检测结果", frozenset({"sthjt"})),
    ("请公开某企业入河排污口设置的审批文件", frozenset({"sthjt"})),
    ("请公开某市2024年环境空气质量状况公报", frozenset({"sthjt"})),
    ("请公开某化工园区的环境污染行政处罚决定书", frozenset({"sthjt"})),
    # --- development and reform (发展改革委) ----------------------------------------------------------
    ("请公开某铁路建设项目的可研批复", frozenset({"fgw"})),
    ("请公开某景区门票价格的核定文件", frozenset({"fgw"})),
    ("请公开某产业园区项目的投资项目备案证明", frozenset({"fgw"})),
    ("请公开某市居民用水价格调整的听证会材料", frozenset({"fgw"})),
    # --- roads (交通运输厅) ---------------------------------------------------------------------------
    ("请公开某县农村客运班线的开通计划", frozenset({"jtyst"})),
    ("请公开某特大桥建设项目的竣工验收报告", frozenset({"jtyst"})),
    ("请公开某省道改造工程的招标结果", frozenset({"jtyst"})),
    ("请公开某出租汽车公司的经营许可信息", frozenset({"jtyst"})),
    # --- water (水利厅), reservoir resettlement (水库移民) -----------------------------------------------
    ("请公开某河流的河长制工作方案", frozenset({"slt"})),
    ("请公开某县2025年防汛抗旱应急预案", frozenset({"slt"})),
    ("请公开某小型水库的大坝安全鉴定报告", frozenset({"slt"})),
    ("请公开某水电站库区移民的后期扶持人员名单", frozenset({"swj"})),
    ("请公开某水库淹没区移民的补偿补助标准", frozenset({"swj"})),
    # --- agriculture (农业农村厅) ---------------------------------------------------------------------
    ("请公开某县2025年种粮农民一次性补贴的发放标准", frozenset({"nynct"})),
    ("请公开某村农村土地承包经营权确权登记结果", frozenset({"nynct"})),
    ("请公开某县高标准农田建设项目的验收情况", frozenset({"nynct"})),
    ("请公开某县农机报废更新补贴的补贴标准", frozenset({"nynct"})),
    ("请公开某县动物防疫的强制免疫计划", frozenset({"nynct"})),
    # --- social insurance, employment (人力资源社会保障厅) --------------------------------------------
    ("请公开某事业单位2025年公开招聘的拟聘用人员名单", frozenset({"rst"})),
    ("请公开某事业单位招聘的面试成绩和招聘结果", frozenset({"rst"})),
    ("请公开某市2025年失业保险金的发放标准", frozenset({"rst"})),
    ("请公开2025年企业退休人员基本养老金调整方案", frozenset({"rst"})),
    ("请公开某县工伤认定的办理流程", frozenset({"rst"})),
    # --- education (教育厅) ---------------------------------------------------------------------------
    ("请公开某市2025年中考的录取分数线", frozenset({"jyt"})),
    ("请公开某大学2025年本科招生章程", frozenset({"jyt"})),
    ("请公开某县义务教育学校的招生划片范围", frozenset({"jyt"})),
    ("请公开某县民办幼儿园的办学许可信息", frozenset({"jyt"})),
    # --- health, medical insurance (卫生健康委, 医疗保障局) --------------------------------------------
    ("请公开某县2025年流感疫苗的接种数据", frozenset({"wjw"})),
    ("请公开某民营医院的执业登记信息", frozenset({"wjw"})),
    ("请公开某市职工医保门诊报销比例的规定", frozenset({"ybj"})),
    ("请公开集中带量采购中选药品的价格清单", frozenset({"ybj"})),
    # --- civil affairs (民政厅), public security (公安厅) ----------------------------------------------
    ("请公开某县2025年临时救助的标准", frozenset({"mzt"})),
    ("请公开某村低保户的评审结果", frozenset({"mzt"})),
    ("请公开某市新生儿落户的办理流程", frozenset({"gat"})),
    ("请公开某县居民身份证的办理流程", frozenset({"gat"})),
    # --- several departments --------------------------------------------------------------------------
    ("请公开某水库的征地批复和移民安置方案", frozenset({"zrzy", "swj"})),
    ("请公开某高速公路项目的环评批复和用地预审意见", frozenset({"sthjt", "zrzy"})),
    ("请公开某县2025年部门预算和事业单位公开招聘结果", frozenset({"czt", "rst"})),
    # --- not an OGI request (Arts. 38–39), unclear, or no department of the directory -------------------
    ("我要反映某小区物业违规收费的问题，请相关部门处理", TRIAGE),
    ("请调查某镇政府违法占地的行为", TRIAGE),
    ("请帮我计算我的养老金每月应该领多少", TRIAGE),
    ("请统计全省各县近五年的低保人数并形成报告", TRIAGE),
    ("我多次上访未果，要求政府给个说法", TRIAGE),
    ("请解释最低工资标准为什么这么低", TRIAGE),
    ("请公开某县检察院的起诉书", TRIAGE),
    ("请公开某国有企业的年度财务报表", TRIAGE),
    ("请公开某村的村务公开栏内容", TRIAGE),
    ("请公开某部门的内部人事考核结果", TRIAGE),
]
