using System.Collections;

namespace Orchestration.TestKit.Linearizability;

/// <summary>
/// Decides whether a concurrent history is linearizable against a sequential model: whether every
/// operation can be given one instant between its call and its return such that, in that order,
/// the model answers exactly what the system answered.
/// </summary>
/// <remarks>
/// The search is Wing and Gong's, with Lowe's memoization of (set of linearized operations, state)
/// pairs, as the porcupine checker does: walk the history in time order; try to linearize each
/// pending call whose answer the model accepts; on meeting a return whose call is not yet
/// linearized, backtrack. Partition the history (for example by key) before calling it, so each
/// search stays small.
/// </remarks>
public static class LinearizabilityChecker
{
    /// <summary>Checks one history.</summary>
    public static bool IsLinearizable<TState, TInput, TOutput>(
        IReadOnlyList<Operation<TInput, TOutput>> history,
        ISequentialModel<TState, TInput, TOutput> model)
        where TState : notnull
    {
        var head = BuildEntryList(history);
        var state = model.Initial;
        var linearized = new BitArray(history.Count);
        var seen = new HashSet<(string, TState)>();
        var stack = new Stack<(Entry Call, TState StateBefore)>();
        var entry = head.Next;
        while (head.Next is not null)
        {
            if (entry is null)
            {
                // Every remaining entry was tried without progress: only returns can be left,
                // and meeting one is handled below, so this means a dead end.
                return false;
            }

            if (entry.IsCall)
            {
                var op = history[entry.Id];
                var (legal, next) = model.Step(state, op.Input, op.Output);
                if (legal)
                {
                    linearized[entry.Id] = true;
                    if (seen.Add((Key(linearized), next)))
                    {
                        stack.Push((entry, state));
                        state = next;
                        Lift(entry);
                        entry = head.Next;
                        continue;
                    }

                    linearized[entry.Id] = false;
                }

                entry = entry.Next;
            }
            else
            {
                // A return whose call is still pending: that operation had to take effect before
                // now, and no choice made so far allows it. Undo the latest choice.
                if (stack.Count == 0)
                {
                    return false;
                }

                var (call, before) = stack.Pop();
                state = before;
                linearized[call.Id] = false;
                Unlift(call);
                entry = call.Next;
            }
        }

        return true;
    }

    private static Entry BuildEntryList<TInput, TOutput>(IReadOnlyList<Operation<TInput, TOutput>> history)
    {
        var events = new List<(long Time, bool IsCall, int Id)>(history.Count * 2);
        for (var i = 0; i < history.Count; i++)
        {
            if (history[i].Return < history[i].Call)
            {
                throw new ArgumentException($"operation {i} returns before it is called.", nameof(history));
            }

            events.Add((history[i].Call, true, i));
            events.Add((history[i].Return, false, i));
        }

        // On equal timestamps calls go first: the operations are then taken as overlapping, the
        // weaker assumption, so a tie can never make a correct history look wrong.
        events.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : b.IsCall.CompareTo(a.IsCall));
        var head = new Entry(-1, false);
        var calls = new Entry?[history.Count];
        var tail = head;
        foreach (var (_, isCall, id) in events)
        {
            var entry = new Entry(id, isCall) { Prev = tail };
            tail.Next = entry;
            tail = entry;
            if (isCall)
            {
                calls[id] = entry;
            }
            else
            {
                calls[id]!.Match = entry;
            }
        }

        return head;
    }

    /// <summary>Takes a call and its return out of the list.</summary>
    private static void Lift(Entry call)
    {
        call.Prev!.Next = call.Next;
        call.Next!.Prev = call.Prev;
        var ret = call.Match!;
        ret.Prev!.Next = ret.Next;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret.Prev;
        }
    }

    /// <summary>Puts a lifted call and its return back where they were.</summary>
    private static void Unlift(Entry call)
    {
        var ret = call.Match!;
        ret.Prev!.Next = ret;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret;
        }

        call.Prev!.Next = call;
        call.Next!.Prev = call;
    }

    private static string Key(BitArray bits)
    {
        var words = new int[(bits.Length + 31) / 32];
        bits.CopyTo(words, 0);
        return string.Join(',', words);
    }

    private sealed class Entry(int id, bool isCall)
    {
        public int Id { get; } = id;

        public bool IsCall { get; } = isCall;

        public Entry? Match { get; set; }

        public Entry? Prev { get; set; }

        public Entry? Next { get; set; }
    }
}
