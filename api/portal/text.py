"""The portal's words in Japanese and English, and the filters that write figures the way the
documents write them (円 with commas, 和暦 dates on Japanese pages: investors.formatting)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from investors.formatting import format_amount, format_date, format_fiscal_year, format_timestamp

LANGS = ("ja", "en")

WORDS: dict[str, tuple[str, str]] = {
    "portal": ("SIB 成果連動型事業 ポータル", "SIB portal"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_out": ("サインアウト", "Sign out"),
    "username": ("ユーザー名", "User name"),
    "code": ("サインインコード（管理者が発行したリンクのコード、または API トークン）",
             "Sign-in code (from the link an administrator sent you, or an API token)"),
    "link_intro": ("管理者が発行したワンタイムリンクでサインインします。"
                   "このリンクは一度だけ使えます。",
                   "Sign in with the one-time link an administrator made for you. The link "
                   "works once."),
    "contract": ("契約", "Contract"), "contracts": ("契約一覧", "Contracts"),
    "fiscal_year": ("年度", "Fiscal year"),
    "budget": ("債務負担行為", "Budget authorisation (債務負担行為)"),
    "limit": ("限度額", "Limit"), "authorised": ("年度限度額", "Authorised for the year"),
    "planned": ("支出予定額", "Planned"), "paid": ("支出済額", "Paid"),
    "headroom": ("残額", "Headroom"), "total": ("合計", "Total"),
    "kpi_results": ("成果指標の実績と目標", "KPI results against targets"),
    "kpi": ("成果指標", "KPI"), "value": ("実績", "Result"), "target": ("目標", "Target"),
    "notices": ("支払通知", "Payment notices"), "notice": ("支払通知", "Payment notice"),
    "amount_due": ("請求額", "Amount due"), "earned": ("成果額", "Earned"),
    "tax": ("消費税", "Consumption tax"), "grant": ("交付金対象額", "Grant covers"),
    "due_on": ("支払期限", "Due on"), "issued_on": ("発行日", "Issued on"),
    "approved": ("検査・承認済", "Inspected and approved"),
    "not_approved": ("未承認", "Not approved"),
    "approve": ("検査し承認する", "Inspect and approve"),
    "zengin": ("全銀ファイル（総合振込）", "Zengin transfer file"),
    "pay_on": ("振込指定日", "Transfer date"), "download": ("ダウンロード", "Download"),
    "view": ("表示", "View"), "pdf_ja": ("PDF（日本語）", "PDF (Japanese)"),
    "pdf_en": ("PDF（英語）", "PDF (English)"),
    "loans": ("融資", "Loans"), "balance": ("残高の推移", "Balance over time"),
    "schedule": ("約定と実績", "Schedule against actual"),
    "principal": ("元金", "Principal"), "interest": ("利息", "Interest"),
    "scheduled": ("約定", "Scheduled"), "actual": ("実績", "Actual"),
    "paid_on": ("入金日", "Paid on"), "overdue": ("延滞", "Overdue"),
    "default_interest": ("遅延損害金", "Default interest"), "status": ("状況", "Status"),
    "statements": ("計算書・証明書", "Statements and confirmations"),
    "statement": ("融資先向け計算書", "Lender statement"),
    "confirmation": ("残高証明書", "Balance confirmation"),
    "holdings": ("保有口数と運用成績", "Holdings and returns"),
    "unit_class": ("クラス", "Class"), "paid_in": ("出資額", "Paid in"),
    "distributed": ("分配額", "Distributed"), "capital_returned": ("出資返還", "Capital returned"),
    "withheld": ("源泉徴収税", "Tax withheld"), "residual": ("残存価値", "Residual value"),
    "irr": ("内部収益率", "IRR"), "multiple": ("倍率", "Multiple"),
    "distributions": ("分配と源泉徴収", "Distributions and withholding"),
    "kind": ("種類", "Kind"), "gross": ("総額", "Gross"), "net": ("手取額", "Net"),
    "audit_log": ("監査ログ", "Audit log"), "filter": ("絞り込み", "Filter"),
    "who": ("実施者", "Who"), "when": ("日時", "When"), "action": ("操作", "Action"),
    "target_path": ("対象", "Target"), "detail": ("詳細", "Detail"),
    "verify": ("検証", "Verification"), "run_verify": ("検証を実行", "Run verification"),
    "latest_verify": ("最新の検証結果", "Latest verification"),
    "never_verified": ("まだ実行されていません", "Not run yet"),
    "workflow": ("年度の手続き", "The year's workflow"), "step": ("手順", "Step"),
    "done": ("完了", "Done"), "waiting": ("前の手順の完了待ち", "Waits for the previous step"),
    "ready": ("実行できます", "Ready"), "next": ("次へ", "Next"),
    "step_kpi": ("成果指標の登録と監査（別の者による）", "KPI results imported and audited (by "
                                                    "someone else)"),
    "step_preview": ("精算の試算（計算過程を確認）", "Settlement preview (every trace)"),
    "step_settle": ("精算", "Settle"), "step_close": ("年度末決算", "Year-end close"),
    "step_approval": ("市町村の検査・承認", "Municipalities' inspection and approval"),
    "step_receipts": ("入金の記録", "Receipts recorded"),
    "step_waterfall": ("ウォーターフォール（返済と分配）", "Waterfall (debt service, returns)"),
    "step_holders": ("投資家への支払", "Holder payments"),
    "step_documents": ("書類の作成", "Documents"),
    "settle": ("精算する", "Settle"), "close": ("決算する", "Close the year"),
    "record_receipt": ("入金を記録", "Record receipt"), "payer": ("支払者", "Payer"),
    "amount": ("金額（円）", "Amount (JPY)"), "on": ("日付", "Date"),
    "reference": ("参照", "Reference"), "distribute": ("実行", "Run"),
    "pay_holders": ("支払う", "Pay"), "preview": ("精算の試算", "Settlement preview"),
    "trace": ("計算過程", "Trace"), "whatif": ("見込み値による試算", "What-if"),
    "projection": ("試算（見込み値・未保存）", "PROJECTION (assumed values, not stored)"),
    "projected": ("見込み値", "Projected value"), "compute": ("試算する", "Compute"),
    "debt_service": ("充当される返済額", "Debt service it would fund"),
    "debt_service_due": ("返済予定額", "Debt service due"),
    "budget_headroom": ("予算残額", "Budget headroom"),
    "audited": ("監査済", "Audited"), "submitted": ("登録済", "Submitted"),
    "import": ("取込", "Import"), "file": ("ファイル（CSV/XLSX）", "File (CSV/XLSX)"),
    "audit": ("監査する", "Audit"), "results": ("成果指標の実績", "KPI results"),
    "year_end": ("年度末精算報告書", "Year-end report"), "pack": ("精算パック（Excel）",
                                                                 "Settlement pack (xlsx)"),
    "not_found": ("見つかりません", "Not found"), "refused": ("受け付けられません", "Refused"),
    "language": ("English", "日本語"), "problems": ("問題", "Problems"),
    "none": ("なし", "None"), "documents": ("書類", "Documents"),
    "investor_statement": ("投資家向け報告書", "Investor statement"),
    "whole": ("契約全体", "contract-wide"),
    "start_statements": ("全書類を作成（バックグラウンド）",
                         "Write every document (background job)"),
    "kind:distribution": ("分配", "Distribution"),
    "kind:capital_return": ("出資返還", "Capital returned"),
    "kind:write_down": ("減額（損失）", "Written down"),
    "kind:guarantee": ("保証による回収", "Recovered from the guarantor"),
    "status:paid_on_time": ("期日どおり入金", "Paid on time"),
    "status:paid_late": ("遅延後入金", "Paid late"), "status:prepaid": ("期限前返済", "Prepaid"),
    "status:overdue": ("延滞中", "Overdue"), "status:written_down": ("減額", "Written down"),
    "status:recovered": ("保証で回収", "Recovered"),
    "status:part_recovered": ("一部回収", "Partly recovered"),
    "status:not_due": ("期日未到来", "Not yet due"),
    "approval_act": ("検査・承認", "Inspection and approval"),
    "inspected_on": ("検査日", "Inspected on"), "approved_by": ("承認者", "Approved by"),
    "job": ("ジョブ", "Job"), "progress": ("進捗", "Progress"),
    "job_state": ("状態", "State"), "started_by": ("開始者", "Started by"),
}

# Passwords, the lead payer's view of every payer, stalled / cancelled / retried jobs.
WORDS.update({
    "password": ("パスワード", "Password"),
    "code_or_password": ("パスワード、またはサインインコード（API トークン）",
                         "Password, or a sign-in code (an API token)"),
    "users": ("利用者", "Users"), "role": ("役割", "Role"), "scope": ("担当", "Acts for"),
    "new_password": ("新しいパスワード", "New password"),
    "repeat_password": ("新しいパスワード（確認）", "New password (again)"),
    "set_password": ("パスワードを設定", "Set password"),
    "password_rules": ("12 文字以上で、ユーザー名を含まないもの。設定すると、その利用者の"
                       "ポータルのセッションはすべて終了します。",
                       "At least 12 characters, not containing the user name. Setting it "
                       "signs the user out of every portal session."),
    "password_set": ("パスワードを設定しました", "Password set"),
    "password_since": ("パスワード設定日時", "Password set on"),
    "all_payers": ("全支払者（代表団体として閲覧）", "Every payer (read as the lead payer)"),
    "read_only_view": ("閲覧のみ（承認は各団体が行います）",
                       "Read only (each municipality approves its own notice)"),
    "job_state:queued": ("待機中", "Queued"), "job_state:running": ("実行中", "Running"),
    "job_state:stalled": ("停止（担当するワーカーがいません）",
                          "Stalled (no worker is running it)"),
    "job_state:done": ("完了", "Done"), "job_state:failed": ("失敗", "Failed"),
    "job_state:cancelled": ("取消済", "Cancelled"),
    "job_stalled_note": ("このジョブを実行しているワーカーがありません（停止または中断）。"
                         "再実行すると、未完了の作業が再びキューに入ります。",
                         "No worker is running this job any more (stopped or killed). Retry "
                         "queues the unfinished work again."),
    "job_cancel": ("取り消す", "Cancel"), "job_retry": ("再実行", "Retry"),
})

# The outcome simulation's pages (api.portal.simulation_pages).
WORDS.update({
    "sim_title": ("成果連動シミュレーション", "Outcome simulation"),
    "sim_intro": ("成果の見込み（前提ファイル）から多数の試行を行い、各試行に契約の支払・"
                  "返済・分配の規定をそのまま適用します。元帳には記帳しません。"
                  "バックグラウンドのジョブとして実行され、ページを再読み込みしても"
                  "進捗が表示されます。",
                  "Draws many scenarios of the outcomes (the assumptions file) and applies the "
                  "contract's own payment, debt-service and distribution rules to each; nothing "
                  "is written to the ledger. It runs as a background job; reloading the page "
                  "shows its progress."),
    "sim_assumptions": ("前提ファイル", "Assumptions"),
    "sim_example": ("契約の例示ファイル", "The contract's example file"),
    "sim_upload": ("ファイルをアップロード", "Upload a file"),
    "sim_file": ("前提ファイル（YAML）", "Assumptions file (YAML)"),
    "sim_runs": ("試行回数", "Runs"), "sim_runs_unit": ("回", "runs"),
    "sim_seed": ("乱数シード", "Seed"),
    "sim_from_year": ("推計開始年度", "Simulated from"),
    "sim_from_file": ("前提ファイルの指定どおり", "As the file says"),
    "sim_batch_size": ("1バッチの試行回数", "Runs per batch"),
    "sim_start": ("シミュレーションを開始", "Start the simulation"),
    "sim_recent": ("これまでのシミュレーション", "Simulations so far"),
    "sim_known": ("使用した監査済み結果", "Audited results used"),
    "sim_path": ("計算経路", "Calculation path"),
    "sim_xlsx": ("Excel（試行別を含む）", "Workbook (with every run)"),
    "sim_payers": ("支払者別の支払額と債務負担行為", "Payers: payments and budget authorisations"),
    "sim_payments": ("成果年度別の支払額", "payments by results year"),
    "sim_cumulative": ("支払額の累計（成果年度末）", "payments to date, by results year"),
    "sim_band_outer": ("P5–P95", "P5–P95"), "sim_band_inner": ("P25–P75", "P25–P75"),
    "sim_median": ("中央値", "Median"),
    "sim_results_year": ("成果年度", "Results year"),
    "sim_budget_year": ("予算年度", "Budget year"), "sim_mean": ("平均", "Mean"),
    "sim_p_above_year": ("限度額超過確率", "P(above the limit)"),
    "sim_total": ("年度別の支払額（全支払者の合計）", "Payments by year (all payers)"),
    "sim_loans": ("借入金の返済", "Loans: debt service"),
    "sim_loan": ("借入金", "Loan"), "sim_lender": ("貸付人", "Lender"),
    "sim_p_shortfall": ("返済不足の確率", "P(shortfall)"),
    "sim_shortfall_by_due": ("約定返済日別の返済不足確率", "P(shortfall) by due date"),
    "sim_first_shortfall": ("初回不足の平均時期", "Expected first shortfall"),
    "sim_expected_loss": ("期待損失額", "Expected loss"), "sim_p_loss": ("損失の確率", "P(loss)"),
    "sim_investors": ("投資家の利回り", "Investors: returns"),
    "sim_multiple": ("倍率（中央値）", "Multiple (median)"),
    "sim_p_capital_loss": ("元本毀損の確率", "P(capital loss)"),
    "sim_irr_chart": ("IRR の分布（%、試行数）", "distribution of the IRR (%, runs)"),
    "sim_runs_count": ("試行数", "Runs"),
    "sim_public": ("公的負担", "Public cost"),
    "sim_public_total": ("支払者の負担総額", "Paid by the payers"),
    "sim_public_net": ("自治体の実質負担", "Municipalities, net of the grant"),
    "sim_note_percentiles": ("P5・P50・P95 は試行結果の順位による値（いずれかの試行の実額）、"
                             "確率は試行数に対する割合。",
                             "P5, P50 and P95 are scenario values at those ranks; "
                             "probabilities are shares of the runs."),
})


def word(key: str, lang: str) -> str:
    ja, en = WORDS.get(key, (key, key))
    return ja if lang == "ja" else en


def yen(amount_minor: int | None, lang: str, currency: str = "JPY") -> str:
    """An amount as the documents write it (``1,234,567円`` / ``JPY 1,234,567``)."""
    if amount_minor is None:
        return "—"
    return format_amount(amount_minor, currency, lang)


def plain(amount_minor: int, currency: str) -> str:
    """An amount as a form field holds it: major units, no grouping (``519810.75``,
    ``5479139``), the way ``parse_major`` reads it back."""
    from ledger.money import format_plain, from_minor
    return format_plain(from_minor(amount_minor, currency))


def money(wire: Any, lang: str) -> str:
    """An API money value (``{"amount": "519810.75", "currency": "USD"}`` or a MoneyJSON) as
    the documents write it, exactly: never through a float or a whole-number cast."""
    from ledger.money_json import MoneyJSON
    value = wire if isinstance(wire, MoneyJSON) else MoneyJSON.model_validate(wire)
    return format_amount(value.to_minor(), value.currency, lang)


def day(on: date | datetime | str | None, lang: str) -> str:
    """A date in 和暦 on Japanese pages, in English otherwise."""
    if on is None or on == "":
        return "—"
    if isinstance(on, str):
        on = date.fromisoformat(on) if len(on) == 10 else datetime.fromisoformat(on)
    if isinstance(on, datetime):
        return format_timestamp(on, lang)
    return format_date(on, lang)


def fiscal_year(year: int, lang: str, currency: str | None = None) -> str:
    """令和元年度 / FY2019; a contract abroad's own name for its year (2026会計年度)."""
    return format_fiscal_year(year, lang, currency=currency)


def decimal_text(value: Decimal | str | None, places: int = 2) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.{places}f}"
