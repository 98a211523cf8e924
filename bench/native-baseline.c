// Native per-block baseline for bench/engines.ts: what mksquashfs 4.5.1 runs per block. xz: liblzma
// lzma_lzma_preset(6) + lzma_stream_buffer_encode, CRC32 (xz_wrapper.c); zlib: deflateInit2 level 9,
// window 15 + deflate(Z_FINISH) (gzip_wrapper.c). Usage: MODE BLOCK FILE [OUT [MEMLEVEL]].
// Prints: input-bytes output-bytes CPU-seconds. OUT gets each stream as u32le length + bytes.
#include <lzma.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  const char*mode=argv[1]; size_t bs=strtoul(argv[2],0,0); FILE*f=fopen(argv[3],"rb");
  FILE*o=argc>4?fopen(argv[4],"wb"):NULL; int memlevel=argc>5?atoi(argv[5]):8;
  fseek(f,0,SEEK_END); long n=ftell(f); fseek(f,0,SEEK_SET); unsigned char*d=malloc(n); fread(d,1,n,f);
  unsigned char*out=malloc(bs*2+65536); size_t tot=0; double t0=now();
  for(long at=0;at<n;at+=bs){ size_t len=(n-at<(long)bs)?n-at:bs; size_t olen=0;
    if(!strcmp(mode,"xz")){ lzma_options_lzma opt; lzma_lzma_preset(&opt,6); opt.dict_size=bs;
      lzma_filter filters[2]={{LZMA_FILTER_LZMA2,&opt},{LZMA_VLI_UNKNOWN,NULL}};
      if(lzma_stream_buffer_encode(filters,LZMA_CHECK_CRC32,NULL,d+at,len,out,&olen,bs*2+65536)!=LZMA_OK) return 2;
    } else { z_stream s; memset(&s,0,sizeof s); if(deflateInit2(&s,9,Z_DEFLATED,15,memlevel,Z_DEFAULT_STRATEGY)!=Z_OK) return 3;
      s.next_in=d+at; s.avail_in=len; s.next_out=out; s.avail_out=bs*2+65536; if(deflate(&s,Z_FINISH)!=Z_STREAM_END) return 4; olen=s.total_out; deflateEnd(&s);}
    tot+=olen; if(o){unsigned int l=olen; fwrite(&l,4,1,o); fwrite(out,1,olen,o);} }
  printf("%ld %zu %.6f\n",n,tot,now()-t0); return 0; }
