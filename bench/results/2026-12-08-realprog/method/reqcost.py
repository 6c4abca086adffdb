import sys,re
# hakmem release classes (usable, stride) from docs/architecture.md
rows=[l.split('|') for l in open('/work/wt-realprog/docs/architecture.md') if re.match(r'^\| \d+ \| \d+ \| \d+ \| [01] \|',l)]
cls=[(int(r[2]),int(r[3])) for r in rows]
def hk(n):
    for u,s in cls:
        if n<=u: return s
    return (n+64+4095)//4096*4096  # whale
def gl(n):
    if n>=128*1024: return (n+16+4095)//4096*4096
    return max(32,(n+8+15)//16*16)
f=sys.argv[1]
ex={};bk={}
for l in open(f):
    p=l.split()
    if p[0]=='peak': print(l.strip()); continue
    if p[0]=='x': ex[int(p[1])]=int(p[2])
    else: bk[int(p[0])]=int(p[1])
# exact below 8192; buckets above (use bucket midpoint)
items=list(ex.items())
for b,c in bk.items():
    if b*16>=8192 and b<16384: items.append((b*16+8,c))
req=sum(n*c for n,c in items); H=sum(hk(n)*c for n,c in items); G=sum(gl(n)*c for n,c in items)
print("req %.1f MiB  hakmem %.1f  glibc %.1f  ratio %.3f"%(req/2**20,H/2**20,G/2**20,H/G))
# per hakmem class
per={}
for n,c in items:
    s=hk(n); d=per.setdefault(s,[0,0,0]); d[0]+=c; d[1]+=s*c; d[2]+=gl(n)*c
for s,(c,h,g) in sorted(per.items(),key=lambda x:-(x[1][1]-x[1][2]))[:12]:
    print("stride %6d blocks %8d hakmem %7.1f MiB glibc %7.1f MiB excess %6.1f"%(s,c,h/2**20,g/2**20,(h-g)/2**20))
