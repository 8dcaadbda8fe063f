"""The waterfall in worked examples: order, seniority, pro rata, losses and guarantees."""

from fractions import Fraction

from settlement.waterfall import Claim, losses, run_waterfall


def test_money_flows_fees_then_interest_then_principal_senior_before_junior():
    claims = [Claim("principal", "junior-units", "citizens", 2_000_000, seniority=2),
              Claim("provider_fees", "thl", "thl", 3_000_000),
              Claim("interest", "loan-a", "bank-a", 100_000),
              Claim("principal", "loan-a", "bank-a", 5_000_000, seniority=1)]
    result = run_waterfall(9_000_000, claims)
    paid = {(a.claim.step, a.claim.instrument): a.paid_minor for a in result.allocations}
    assert paid == {("provider_fees", "thl"): 3_000_000, ("interest", "loan-a"): 100_000,
                    ("principal", "loan-a"): 5_000_000, ("principal", "junior-units"): 900_000}
    interest = next(a for a in result.allocations if a.claim.step == "interest")
    assert interest.paid_minor == 100_000
    junior = next(a for a in result.allocations if a.claim.instrument == "junior-units")
    assert junior.paid_minor == 900_000 and junior.unpaid_minor == 1_100_000
    assert result.left_minor == 0


def test_equal_seniority_shares_pro_rata_and_adds_up_exactly():
    claims = [Claim("principal", f"loan-{i}", f"bank-{i}", amount)
              for i, amount in enumerate([30_000_000, 12_000_000, 8_000_000])]
    result = run_waterfall(10_000_001, claims)
    parts = [a.paid_minor for a in result.allocations]
    assert sum(parts) == 10_000_001
    assert parts == [6_000_001, 2_400_000, 1_600_000]


def test_money_left_after_every_claim_is_reported():
    result = run_waterfall(1_000, [Claim("interest", "l", "b", 400)])
    assert result.left_minor == 600


def test_a_guarantee_covers_its_share_of_the_junior_loss_and_the_rest_is_written_down():
    out = losses([("citizen-units", "citizens", 4_000_000), ("loan-a", "bank-a", 0)],
                 [("citizen-units", Fraction(1, 2), 1_500_000)])
    units = out[0]
    assert (units.guaranteed_minor, units.written_down_minor) == (1_500_000, 2_500_000)
    assert out[1].written_down_minor == 0
