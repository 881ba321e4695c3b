using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using FluentAssertions;
using Orchestration.State;
using Orchestration.TestKit.Linearizability;
using Xunit;

namespace Orchestration.TestKit.Conformance;

public abstract partial class StateStoreConformanceTests
{
    [Fact]
    public async Task Concurrent_reads_and_compare_and_swap_writes_form_a_linearizable_history()
    {
        const int clients = 4;
        const int opsPerClient = 60;
        var keys = new[] { K("lin/x"), K("lin/y"), K("lin/z") };
        var store = await NewStoreAsync();
        var history = new ConcurrentBag<(string Key, Operation<RegisterInput, RegisterOutput> Op)>();

        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var random = new Random(1000 + client);
            var lastSeen = keys.ToDictionary(k => k, _ => 0L);
            for (var i = 0; i < opsPerClient; i++)
            {
                var key = keys[random.Next(keys.Length)];
                var value = $"c{client}-{i}";

                // Mostly the newest revision this client saw; sometimes a stale one, to force conflicts.
                var expected = random.Next(4) == 0 ? Math.Max(1, lastSeen[key] - 1) : Math.Max(1, lastSeen[key]);
                var roll = random.Next(10);
                var input = roll switch
                {
                    < 4 => new RegisterInput(RegisterOp.Read, null, 0),
                    < 6 => new RegisterInput(RegisterOp.Create, value, 0),
                    < 9 => new RegisterInput(RegisterOp.Update, value, expected),
                    _ => new RegisterInput(RegisterOp.Delete, null, random.Next(2) == 0 ? 0 : expected),
                };

                var call = Stopwatch.GetTimestamp();
                RegisterOutput output;
                switch (input.Op)
                {
                    case RegisterOp.Read:
                        var kv = await store.GetAsync(key);
                        output = new RegisterOutput(true, kv is null ? null : Encoding.UTF8.GetString(kv.Value.Span), kv?.ModRevision ?? 0);
                        break;
                    case RegisterOp.Create:
                        output = Observed(await store.CreateAsync(key, V(value)));
                        break;
                    case RegisterOp.Update:
                        output = Observed(await store.UpdateAsync(key, V(value), input.ExpectedRevision));
                        break;
                    default:
                        output = Observed(await store.DeleteAsync(key, input.ExpectedRevision));
                        break;
                }

                var returned = Stopwatch.GetTimestamp();
                history.Add((key, new Operation<RegisterInput, RegisterOutput>(client, input, output, call, returned)));
                if (output.Revision > 0 && (input.Op == RegisterOp.Read || output.Succeeded))
                {
                    lastSeen[key] = output.Revision;
                }
                else if (!output.Succeeded && output.Revision > 0)
                {
                    lastSeen[key] = output.Revision;
                }
            }
        })));

        var all = history.ToList();
        all.Should().HaveCount(clients * opsPerClient);
        all.Count(h => h.Op.Input.Op != RegisterOp.Read && h.Op.Output.Succeeded).Should().BeGreaterThan(10, "the history must contain successful writes");
        all.Count(h => h.Op.Input.Op != RegisterOp.Read && !h.Op.Output.Succeeded).Should().BeGreaterThan(10, "the history must contain conflicts");
        foreach (var group in all.GroupBy(h => h.Key))
        {
            var ops = group.Select(h => h.Op).ToList();
            LinearizabilityChecker.IsLinearizable(ops, new CasRegisterModel()).Should().BeTrue($"the history of {group.Key} ({ops.Count} operations) must be linearizable");
        }

        // Successful writes on different keys still share one global revision counter.
        all.Where(h => h.Op.Input.Op != RegisterOp.Read && h.Op.Output.Succeeded)
            .Select(h => h.Op.Output.Revision).Should().OnlyHaveUniqueItems();
    }

    /// <summary>
    /// A write's outcome as the register model reads it: the new revision on success; on a
    /// conflict, the mod revision of the value found (0 when the key is absent), so the client can
    /// retry with it.
    /// </summary>
    private static RegisterOutput Observed(WriteResult result) =>
        result.Succeeded
            ? new RegisterOutput(true, null, result.Revision)
            : new RegisterOutput(false, null, result.Current?.ModRevision ?? 0);
}
