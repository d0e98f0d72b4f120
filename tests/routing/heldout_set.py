"""The held-out set of issue #13: descriptions written and labelled after the matching was tuned on
tuning_set.py (and labelled_set.py), measured once, and never used for tuning since. Its figures
(tests/routing/test_heldout_set.py) are the out-of-sample measure of the issue's targets: ≥ 85 % of
the routable descriptions routed exactly right, none routed wrongly, and every request that is not
an OGI request (a complaint, a report, a petition, a request to compile or analyse or to explain;
Arts. 38–39) sent to triage with a ``triage:not-ogi:`` reason.

``NOT_OGI`` marks the latter among the TRIAGE labels.
"""

from __future__ import annotations

from tests.routing.labelled_set import TRIAGE

NOT_OGI = "not-ogi"

HELDOUT: list[tuple[str, frozenset[str] | str]] = [
    # --- land (自然资源厅) ---------------------------------------------------------------------------
    ("请公开某县2024年批准的建设用地批复及征收土地公告", frozenset({"zrzy"})),
    ("请公开某村集体土地被征收的补偿安置方案", frozenset({"zrzy"})),
    ("申请公开某工业园区的用地预审与选址意见书", frozenset({"zrzy"})),
    ("请公开某县永久基本农田的划定成果", frozenset({"zrzy"})),
    ("请公开某地块土地出让金的收缴情况", frozenset({"zrzy"})),
    ("请公开某小区的不动产权证办理进度", frozenset({"zrzy"})),
    ("请公开某县的国土空间总体规划文本", frozenset({"zrzy"})),
    ("请公开某砂石矿的采矿权出让合同", frozenset({"zrzy"})),
    # --- finance (财政厅) ----------------------------------------------------------------------------
    ("请公开某学校食堂设备的政府采购中标结果", frozenset({"czt"})),
    ("请公开2025年省级部门预算公开目录", frozenset({"czt"})),
    ("请公开某市2024年地方政府专项债券的发行情况", frozenset({"czt"})),
    ("请公开省财政厅2025年的一般公共预算支出决算", frozenset({"czt"})),
    ("请公开2024年省对某县的转移支付资金明细", frozenset({"czt"})),
    ("请公开2025年省级财政专项资金的绩效评价报告", frozenset({"czt"})),
    # --- housing (住房城乡建设厅) ---------------------------------------------------------------------
    ("请公开某旧城片区的房屋征收决定及补偿方案", frozenset({"zjt"})),
    ("请公开某楼盘的商品房预售许可证信息", frozenset({"zjt"})),
    ("请公开某市2025年城镇老旧小区改造计划", frozenset({"zjt"})),
    ("请公开某县公租房的轮候名单", frozenset({"zjt"})),
    ("请公开某建筑企业的资质证书信息", frozenset({"zjt"})),
    ("请公开某市住房公积金的缴存比例规定", frozenset({"zjt"})),
    ("请公开某县农村危房改造的补助名单", frozenset({"zjt"})),
    # --- environment (生态环境厅) ---------------------------------------------------------------------
    ("请公开某水泥厂技改项目的环评批复", frozenset({"sthjt"})),
    ("请公开某河流国控断面的水质监测结果", frozenset({"sthjt"})),
    ("请公开某危险废物处置企业的经营许可证", frozenset({"sthjt"})),
    ("请公开某县2024年的环境质量报告书", frozenset({"sthjt"})),
    ("请公开某企业的竣工环境保护验收报告", frozenset({"sthjt"})),
    ("请公开中央生态环境保护督察反馈问题的整改方案", frozenset({"sthjt"})),
    # --- development and reform (发展改革委) ----------------------------------------------------------
    ("请公开某城市快速路项目的可行性研究报告批复", frozenset({"fgw"})),
    ("请公开某市管道天然气价格的调整文件", frozenset({"fgw"})),
    ("请公开某工业项目的节能审查意见", frozenset({"fgw"})),
    ("请公开2025年省级重点建设项目名单", frozenset({"fgw"})),
    ("请公开某风电项目的核准批复", frozenset({"fgw"})),
    # --- roads (交通运输厅) ---------------------------------------------------------------------------
    ("请公开某高速公路的收费期限批复", frozenset({"jtyst"})),
    ("请公开某县2025年农村公路养护计划", frozenset({"jtyst"})),
    ("请公开某跨江大桥的设计批复", frozenset({"jtyst"})),
    ("请公开某市网约车经营许可的发放情况", frozenset({"jtyst"})),
    ("请公开某县城市公交线路的调整方案", frozenset({"jtyst"})),
    ("请公开某隧道工程的竣工验收报告", frozenset({"jtyst"})),
    # --- water (水利厅), reservoir resettlement (水库移民) -----------------------------------------------
    ("请公开某河道的河长公示牌信息及河长制巡河记录", frozenset({"slt"})),
    ("请公开某县2024年农村饮水安全工程的建设清单", frozenset({"slt"})),
    ("请公开某中型水库的调度运行计划", frozenset({"slt"})),
    ("请公开某生产建设项目的水土保持方案批复", frozenset({"slt"})),
    ("请公开某县堤防加固工程的验收文件", frozenset({"slt"})),
    ("请公开某水电站库区移民的后期扶持资金发放名单", frozenset({"swj"})),
    ("请公开某水库淹没区的移民安置实施方案", frozenset({"swj"})),
    # --- agriculture (农业农村厅) ---------------------------------------------------------------------
    ("请公开某县2025年耕地地力保护补贴的发放名册", frozenset({"nynct"})),
    ("请公开某乡镇高标准农田建设的项目清单", frozenset({"nynct"})),
    ("请公开某县生猪养殖场的动物防疫条件合格证", frozenset({"nynct"})),
    ("请公开某村土地承包经营权的确权登记簿", frozenset({"nynct"})),
    ("请公开某县2025年农机购置与应用补贴的结算名单", frozenset({"nynct"})),
    ("请公开某县农民合作社的示范社名单", frozenset({"nynct"})),
    # --- social insurance, employment (人力资源社会保障厅) --------------------------------------------
    ("请公开某事业单位2025年招聘的考试成绩及拟聘用人员名单", frozenset({"rst"})),
    ("请公开某县2025年失业保险金的申领条件", frozenset({"rst"})),
    ("请公开2025年城乡居民养老保险的基础养老金标准", frozenset({"rst"})),
    ("请公开某市工伤保险的缴费费率", frozenset({"rst"})),
    ("请公开2025年职称评审的通过人员名单", frozenset({"rst"})),
    ("请公开某企业拖欠农民工工资案件的劳动保障监察结果", frozenset({"rst"})),
    ("请公开某县人才引进的资格审查结果", frozenset({"rst"})),
    # --- education (教育厅) ---------------------------------------------------------------------------
    ("请公开某市2025年中考录取分数线及录取名单", frozenset({"jyt"})),
    ("请公开某县公办幼儿园的招生简章", frozenset({"jyt"})),
    ("请公开某大学2025年的招生计划", frozenset({"jyt"})),
    ("请公开某县2025年国家助学金的评审结果", frozenset({"jyt"})),
    ("请公开某民办学校的办学许可证", frozenset({"jyt"})),
    # --- health, medical insurance (卫生健康委, 医疗保障局) --------------------------------------------
    ("请公开某县2025年免疫规划疫苗的接种率", frozenset({"wjw"})),
    ("请公开某诊所的医疗机构执业许可证", frozenset({"wjw"})),
    ("请公开某乡镇卫生院的基本公共卫生服务项目资金使用情况", frozenset({"wjw"})),
    ("请公开某市2025年城乡居民医保的报销比例", frozenset({"ybj"})),
    ("请公开某医院的医保定点协议", frozenset({"ybj"})),
    ("请公开异地就医直接结算的备案办理流程", frozenset({"ybj"})),
    # --- civil affairs (民政厅), public security (公安厅) ----------------------------------------------
    ("请公开某县2025年临时救助对象的审批名单", frozenset({"mzt"})),
    ("请公开某市2025年农村低保对象的公示名单", frozenset({"mzt"})),
    ("请公开某社会团体的登记证书信息", frozenset({"mzt"})),
    ("请公开某市高龄津贴的发放标准", frozenset({"mzt"})),
    ("请公开某县人才落户的办理条件", frozenset({"gat"})),
    ("请公开某市居住证的申领流程", frozenset({"gat"})),
    ("请公开某路口2024年的道路交通事故统计", frozenset({"gat"})),
    # --- several departments --------------------------------------------------------------------------
    ("请公开某水库工程的环评批复和移民安置规划", frozenset({"sthjt", "swj"})),
    ("请公开某县2025年部门预算及公租房分配名单", frozenset({"czt", "zjt"})),
    ("请公开某高速公路项目的用地批复和可研批复", frozenset({"zrzy", "fgw"})),
    ("请公开某县耕地地力保护补贴发放标准和城乡低保标准", frozenset({"nynct", "mzt"})),
    # --- not an OGI request (Arts. 38–39) -------------------------------------------------------------
    ("我要投诉某医院乱收费，请卫生部门严肃处理", NOT_OGI),
    ("举报某建筑工地夜间违规施工噪声扰民", NOT_OGI),
    ("我多次信访反映征地补偿不公，至今没有答复", NOT_OGI),
    ("请帮我统计全省各市近三年的财政收入并做比较", NOT_OGI),
    ("请编制一份某县各乡镇低保资金发放情况的汇总表", NOT_OGI),
    ("请对某企业偷排废水的问题进行调查", NOT_OGI),
    ("请解释为什么我的养老金比邻居少", NOT_OGI),
    ("咨询一下公租房申请需要哪些材料", NOT_OGI),
    ("要求赔偿我家房屋被强拆的损失", NOT_OGI),
    ("请帮我计算征地补偿款我家应得多少", NOT_OGI),
    ("请查处某村干部侵占低保金的行为", NOT_OGI),
    ("反映某小区物业费上涨的问题，请有关部门调查处理", NOT_OGI),
    # --- unclear, or no department of the directory ---------------------------------------------------
    ("请公开某县法院的执行案件名单", TRIAGE),
    ("请公开某上市公司的财务审计报告", TRIAGE),
    ("请公开某县纪委的审查调查材料", TRIAGE),
    ("请公开政府的相关政策文件", TRIAGE),
]
