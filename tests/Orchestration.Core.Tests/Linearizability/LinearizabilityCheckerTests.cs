using Orchestration.TestKit.Linearizability;

namespace Orchestration.Core.Tests.Linearizability;

/// <summary>The checker used by the conformance kit must reject what is wrong, or it proves nothing.</summary>
[Trait("Category", "Unit")]
public sealed class LinearizabilityCheckerTests
{
    private static Operation<RegisterInput, RegisterOutput> Op(int client, RegisterInput input, RegisterOutput output, long call, long ret) =>
        new(client, input, output, call, ret);

    private static RegisterInput Create(string v) => new(RegisterOp.Create, v, 0);

    private static RegisterInput Update(string v, long expected) => new(RegisterOp.Update, v, expected);

    private static RegisterInput Read() => new(RegisterOp.Read, null, 0);

    private static bool Check(params Operation<RegisterInput, RegisterOutput>[] ops) =>
        LinearizabilityChecker.IsLinearizable(ops, new CasRegisterModel());

    [Fact]
    public void A_sequential_correct_history_is_linearizable()
    {
        Check(
            Op(0, Create("a"), new(true, null, 5), 0, 1),
            Op(1, Read(), new(true, "a", 5), 2, 3),
            Op(0, Update("b", 5), new(true, null, 6), 4, 5),
            Op(1, Read(), new(true, "b", 6), 6, 7)).Should().BeTrue();
    }

    [Fact]
    public void A_read_of_a_value_before_it_was_written_is_not_linearizable()
    {
        Check(
            Op(1, Read(), new(true, "a", 5), 0, 1),
            Op(0, Create("a"), new(true, null, 5), 2, 3)).Should().BeFalse();
    }

    [Fact]
    public void A_stale_read_after_a_completed_write_is_not_linearizable()
    {
        Check(
            Op(0, Create("a"), new(true, null, 5), 0, 1),
            Op(0, Update("b", 5), new(true, null, 6), 2, 3),
            Op(1, Read(), new(true, "a", 5), 4, 5)).Should().BeFalse();
    }

    [Fact]
    public void A_read_overlapping_a_write_may_see_either_value()
    {
        var write = Op(0, Update("b", 5), new(true, null, 6), 10, 20);
        var create = Op(0, Create("a"), new(true, null, 5), 0, 1);
        Check(create, write, Op(1, Read(), new(true, "a", 5), 12, 14)).Should().BeTrue();
        Check(create, write, Op(1, Read(), new(true, "b", 6), 12, 14)).Should().BeTrue();
    }

    [Fact]
    public void Two_compare_and_swaps_from_the_same_revision_cannot_both_succeed()
    {
        Check(
            Op(0, Create("a"), new(true, null, 5), 0, 1),
            Op(1, Update("x", 5), new(true, null, 6), 2, 10),
            Op(2, Update("y", 5), new(true, null, 7), 2, 10)).Should().BeFalse();
    }

    [Fact]
    public void Reads_that_see_values_in_an_order_no_single_copy_allows_are_not_linearizable()
    {
        // Two writes overlap; two later reads disagree about which came last.
        Check(
            Op(0, Create("a"), new(true, null, 1), 0, 1),
            Op(1, Update("b", 1), new(true, null, 2), 2, 10),
            Op(2, Read(), new(true, "b", 2), 11, 12),
            Op(3, Read(), new(true, "a", 1), 13, 14)).Should().BeFalse();
    }
}
