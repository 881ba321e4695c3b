using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// What the proxy's tables hold after its last good sync: the layout, each Service port with its
/// program, which ports have map elements in which table, and the chains and sets that wait for
/// deletion. A change sync costs what changed plus one lookup per port, never a copy of it all.
/// </summary>
internal sealed class NftablesState
{
    private readonly Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)> _ports;
    private readonly Dictionary<string, HashSet<ServicePortName>> _elementsIn = new(StringComparer.Ordinal);
    private HashSet<NftStaleObject> _stale = [];

    public NftablesState(NftablesLayout layout, int capacity)
    {
        Layout = layout;
        _ports = new(capacity);
    }

    /// <summary>The tables the rules are in.</summary>
    public NftablesLayout Layout { get; }

    /// <summary>The programs of every port.</summary>
    public IReadOnlyCollection<PortProgram> Programs => _ports.Values.Select(p => p.Program).ToList();

    /// <summary>Adds a port (while the state is built for a full sync).</summary>
    public void Add(ServicePortName name, ServicePort port, PortProgram program)
    {
        _ports[name] = (port, program);
        Index(name, program);
    }

    /// <summary>The program of <paramref name="port"/> if it is here as it is, so that it need not be made again.</summary>
    public PortProgram? ProgramOf(ServicePortName name, ServicePort port) =>
        _ports.TryGetValue(name, out var was) && (ReferenceEquals(was.Port, port) || was.Port.Equals(port)) ? was.Program : null;

    /// <summary>The ports of <paramref name="table"/> that differ from this state: each with its port and program now, or null when it is gone.</summary>
    public Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)?> Diff(ServiceTable table, Func<ServicePort, PortProgram> program)
    {
        var diff = new Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)?>();
        var kept = 0;
        foreach (var (name, port) in table.Ports)
        {
            if (_ports.TryGetValue(name, out var was))
            {
                kept++;
                if (ReferenceEquals(was.Port, port) || was.Port.Equals(port))
                {
                    continue;
                }
            }

            diff[name] = (port, program(port));
        }

        if (kept < _ports.Count)
        {
            foreach (var name in _ports.Keys)
            {
                if (!table.Ports.ContainsKey(name))
                {
                    diff[name] = null;
                }
            }
        }

        return diff;
    }

    /// <summary>The script that applies <paramref name="diff"/>, and the stale chains and sets after it (see <see cref="NftablesRuleset.Changes"/>).</summary>
    public (string Script, HashSet<NftStaleObject> Stale) ChangeScript(Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)?> diff)
    {
        var stale = new HashSet<NftStaleObject>(_stale);
        var changes = new List<(PortProgram? Old, PortProgram? New)>(diff.Count);
        foreach (var (name, now) in diff)
        {
            changes.Add((_ports.TryGetValue(name, out var was) ? was.Program : null, now?.Program));
        }

        var script = NftablesRuleset.Changes(Layout, changes, (table, map) => ElementsAfter(diff, table, map), stale);
        return (script, stale);
    }

    /// <summary>Records that the kernel took <paramref name="diff"/>.</summary>
    public void Commit(Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)?> diff, HashSet<NftStaleObject> stale)
    {
        foreach (var (name, now) in diff)
        {
            if (_ports.TryGetValue(name, out var was))
            {
                Unindex(name, was.Program);
            }

            if (now is { } entry)
            {
                _ports[name] = entry;
                Index(name, entry.Program);
            }
            else
            {
                _ports.Remove(name);
            }
        }

        _stale = stale;
    }

    // Every element of one map of one table once the diff applies: those of the ports that have
    // elements in the table (one shard's, or the ports without endpoints), not all ports.
    private IEnumerable<NftElement> ElementsAfter(Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)?> diff, string table, string map)
    {
        if (_elementsIn.TryGetValue(table, out var names))
        {
            foreach (var name in names)
            {
                if (!diff.ContainsKey(name))
                {
                    foreach (var element in ElementsOf(_ports[name].Program, table, map))
                    {
                        yield return element;
                    }
                }
            }
        }

        foreach (var now in diff.Values)
        {
            if (now is { } entry)
            {
                foreach (var element in ElementsOf(entry.Program, table, map))
                {
                    yield return element;
                }
            }
        }
    }

    private IEnumerable<NftElement> ElementsOf(PortProgram program, string table, string map) =>
        program.Elements.Where(e => e.Map == map && Layout.TableOf(program, e) == table);

    private void Index(ServicePortName name, PortProgram program)
    {
        foreach (var element in program.Elements)
        {
            var table = Layout.TableOf(program, element);
            if (!_elementsIn.TryGetValue(table, out var names))
            {
                _elementsIn[table] = names = [];
            }

            names.Add(name);
        }
    }

    private void Unindex(ServicePortName name, PortProgram program)
    {
        foreach (var element in program.Elements)
        {
            if (_elementsIn.TryGetValue(Layout.TableOf(program, element), out var names))
            {
                names.Remove(name);
            }
        }
    }
}
