using ARSoft.Tools.Net.Dns;

namespace Orchestration.Dns.Forwarding;

/// <summary>The question an upstream answer is cached under: the name in lower case, the type and the class.</summary>
internal readonly record struct CacheKey(string Name, RecordType Type, RecordClass Class);
