FROM busybox
ONBUILD RUN echo triggered > /triggered.txt
ONBUILD COPY trigger.txt /from-trigger/
ONBUILD ENV TRIGGERED=yes
RUN echo parent > /parent.txt
