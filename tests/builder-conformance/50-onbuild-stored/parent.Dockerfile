FROM busybox
ARG X=1
ONBUILD RUN echo $X > /x
ONBUILD LABEL from=onbuild
